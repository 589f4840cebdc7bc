using Fovea.Models;
using Fovea.Onnx.Proto;

namespace Fovea.Onnx;

// Layer names become ONNX names, and ONNX names each value and each node once: clashes are found and renamed here.
public static partial class OnnxExporter
{
    private static ModelProto WriteUniquelyNamed(Model model, int opset)
    {
        // Layer names become ONNX names. One that clashes with a name the export writes itself ("output", the
        // normalisation's values) or another layer derives from its own ("mul_lift_b") makes an invalid model (ONNX names each
        // value and node once), so that layer is written under a fresh name and the graph built again.
        var renamed = new Dictionary<int, string>();
        for (int attempt = 0; attempt <= model.Nodes.Count; attempt++)
        {
            var writer = new Writer(model, opset, renamed);
            var proto = writer.Run();
            if (writer.FirstClash() is not int clash) return proto;
            var taken = model.Nodes.Select(n => n.Name).Concat(renamed.Values).ToHashSet(StringComparer.Ordinal);
            string name = model.Nodes[clash].Name;
            int k = 1;
            while (taken.Contains($"{name}_{k}")) k++;
            renamed[clash] = $"{name}_{k}";
        }
        throw new InvalidOperationException($"Model '{model.Name}': no set of unique ONNX names found for its layers.");
    }

    private sealed partial class Writer
    {
        // The model node that wrote each ONNX node and initializer; -1 for the export's own (input, normalisation, output).
        private readonly List<int> _nodeOwners = [], _initializerOwners = [];

        private void Own(int owner)
        {
            while (_nodeOwners.Count < _graph.Node.Count) _nodeOwners.Add(owner);
            while (_initializerOwners.Count < _graph.Initializer.Count) _initializerOwners.Add(owner);
        }

        /// <summary>
        /// The model node to rename so that every value and every node has its own name, or null when all do: of two
        /// layers the later one, and a layer rather than one of the export's own names.
        /// </summary>
        public int? FirstClash()
        {
            var values = new Dictionary<string, int>(StringComparer.Ordinal) { ["input"] = -1 };
            var nodes = new Dictionary<string, int>(StringComparer.Ordinal);
            var defined = _graph.Initializer.Select((t, i) => (t.Name, _initializerOwners[i]))
                .Concat(_graph.Node.SelectMany((n, i) => n.Output.Where(o => o.Length > 0).Select(o => (o, _nodeOwners[i]))));
            foreach (var (name, owner) in defined)
                if (!values.TryAdd(name, owner) && values[name] != owner) return Math.Max(values[name], owner);
            for (int i = 0; i < _graph.Node.Count; i++)
                if (!nodes.TryAdd(_graph.Node[i].Name, _nodeOwners[i]) && nodes[_graph.Node[i].Name] != _nodeOwners[i])
                    return Math.Max(nodes[_graph.Node[i].Name], _nodeOwners[i]);
            return null;
        }
    }
}
