using System.Globalization;
using System.Net;
using System.Text;
using Fovea.Models;
using Fovea.Training;

namespace Fovea.Vision;

/// <summary>
/// One self-contained HTML page (no scripts, no external files: pictures are embedded as data: URIs) that ties the
/// pictures together: model summary table, training charts, confusion matrix, top-k predictions, Grad-CAM, activation
/// maps, filters and the pooling explainer. Opens offline in any browser.
/// </summary>
public sealed class HtmlReport
{
    private readonly StringBuilder _body = new();
    private readonly List<(string Id, string Heading)> _sections = new();

    /// <summary>Starts a report titled <paramref name="title"/>.</summary>
    public HtmlReport(string title) => Title = title;

    /// <summary>Page title.</summary>
    public string Title { get; }

    /// <summary>Number of embedded images so far.</summary>
    public int ImageCount { get; private set; }

    /// <summary>Adds the summary table: each layer's type, stage, inputs, output shape, parameters, FLOPs and receptive field, plus totals.</summary>
    public HtmlReport AddSummary(ModelSummary summary)
    {
        var sb = new StringBuilder();
        sb.Append(CultureInfo.InvariantCulture, $"<p>Input {E(Drawing.Shape(summary.InputShape))} · {summary.TotalParameters:N0} parameters ({summary.TrainableParameters:N0} trainable) · {summary.TotalFlops:N0} FLOPs per image (forward) · {summary.Layers.Count} layers</p>\n");
        sb.Append("<table class=\"summary\"><thead><tr><th>#</th><th>Layer</th><th>Type</th><th>Stage</th><th>Inputs</th><th>Output shape</th><th>Parameters</th><th>FLOPs</th><th title=\"receptive field: the input pixels one output position depends on\">Sees</th></tr></thead><tbody>\n");
        int i = 1;
        foreach (var l in summary.Layers)
            sb.Append(CultureInfo.InvariantCulture, $"<tr><td>{i++}</td><td>{E(l.Name)}{(l.Trainable ? "" : " <span class=\"muted\">(frozen)</span>")}</td><td>{E(l.Type)}</td><td>{(l.Stage == ModelStage.Base ? "base" : "top")}</td><td>{E(string.Join(", ", l.Inputs))}</td><td>{E(Drawing.Shape(l.OutputShape))}</td><td class=\"num\">{l.Parameters:N0}</td><td class=\"num\">{l.Flops:N0}</td><td class=\"num\">{E(l.ReceptiveField?.ToString() ?? "-")}</td></tr>\n");
        sb.Append(CultureInfo.InvariantCulture, $"</tbody><tfoot><tr><td></td><td colspan=\"5\">Total</td><td class=\"num\">{summary.TotalParameters:N0}</td><td class=\"num\">{summary.TotalFlops:N0}</td><td></td></tr></tfoot></table>\n<p class=\"muted\">Sees: the receptive field, the input pixels one output position depends on (all: the whole input).</p>\n");
        return AddHtml($"Model {summary.Name}", sb.ToString());
    }

    /// <summary>
    /// Adds a table of the top-k predictions. With <paramref name="classScores"/> false (outputs that are not class
    /// scores) it lists the largest outputs by raw value instead, without probabilities.
    /// </summary>
    public HtmlReport AddPredictions(IReadOnlyList<ClassProbability> top, string? imageName = null, bool classScores = true)
    {
        var sb = new StringBuilder();
        if (imageName is not null) sb.Append($"<p>Image: <code>{E(imageName)}</code></p>\n");
        if (!classScores) sb.Append("<p>The model's outputs are not class scores (e.g. features of a network without its classifier): the largest outputs are listed by raw value, without probabilities.</p>\n");
        sb.Append(classScores ? "<table class=\"topk\"><thead><tr><th>Rank</th><th>Class</th><th>Index</th><th>Probability</th></tr></thead><tbody>\n"
                              : "<table class=\"topk\"><thead><tr><th>Rank</th><th>Output</th><th>Index</th><th>Value</th></tr></thead><tbody>\n");
        for (int i = 0; i < top.Count; i++)
            sb.Append(CultureInfo.InvariantCulture, $"<tr><td>{i + 1}</td><td>{E(top[i].ClassName)}</td><td>{top[i].ClassIndex}</td><td class=\"num\">{(classScores ? top[i].Probability.ToString("P2", CultureInfo.InvariantCulture) : GradCam.FormatValue(top[i].Score))}</td></tr>\n");
        sb.Append("</tbody></table>\n");
        return AddHtml(classScores ? "Top-k predictions" : "Largest outputs", sb.ToString());
    }

    /// <summary>Adds the final-epoch figures of a training history as a table.</summary>
    public HtmlReport AddHistoryTable(IReadOnlyList<EpochMetrics> epochs)
    {
        var sb = new StringBuilder("<table><thead><tr><th>Epoch</th><th>Loss</th><th>Accuracy</th><th>Val. loss</th><th>Val. accuracy</th><th>Seconds</th></tr></thead><tbody>\n");
        foreach (var e in epochs)
            sb.Append(CultureInfo.InvariantCulture, $"<tr><td>{e.Epoch}</td><td class=\"num\">{e.Loss:F4}</td><td class=\"num\">{e.Accuracy:P2}</td><td class=\"num\">{(e.ValidationLoss is double vl ? vl.ToString("F4", CultureInfo.InvariantCulture) : "–")}</td><td class=\"num\">{(e.ValidationAccuracy is double va ? va.ToString("P2", CultureInfo.InvariantCulture) : "–")}</td><td class=\"num\">{e.Seconds:F1}</td></tr>\n");
        sb.Append("</tbody></table>\n");
        return AddHtml("Training history", sb.ToString());
    }

    /// <summary>Adds a section with a heading, optional text, and pictures (embedded, titled, captioned).</summary>
    public HtmlReport AddPictures(string heading, string? text, IEnumerable<Picture> pictures)
    {
        var sb = new StringBuilder();
        if (text is not null) sb.Append($"<p>{E(text)}</p>\n");
        foreach (var p in pictures)
        {
            // Numbered: two names can map to one safe name (class names in other scripts all become "_").
            sb.Append(CultureInfo.InvariantCulture, $"<figure id=\"fig{ImageCount + 1}-{E(p.Name)}\"><img src=\"{p.ToDataUri()}\" width=\"{p.Width}\" height=\"{p.Height}\" alt=\"{E(p.Title)}\">");
            sb.Append($"<figcaption><b>{E(p.Title)}</b>{(p.Caption is null ? "" : " — " + E(p.Caption))}</figcaption></figure>\n");
            ImageCount++;
        }
        return AddHtml(heading, sb.ToString());
    }

    /// <summary>Adds a section of raw (trusted) HTML.</summary>
    public HtmlReport AddHtml(string heading, string html)
    {
        string id = $"s{_sections.Count + 1}";
        _sections.Add((id, heading));
        _body.Append($"<section id=\"{id}\"><h2>{E(heading)}</h2>\n{html}</section>\n");
        return this;
    }

    /// <summary>Adds every picture of a visualisation, in the order: predictions, Grad-CAM, occlusion, input, activation maps, pooling, filters, filter patterns.</summary>
    public HtmlReport AddVisualization(Visualization v, string? imageName = null)
    {
        AddPredictions(v.TopK, imageName, v.ClassScores);
        AddPictures(v.ClassScores ? "Prediction chart" : "Output chart", null, [v.Predictions]);
        if (v.GradCams.Count > 0) AddPictures("Grad-CAM", v.ClassScores
            ? "Which part of the image made the network choose each class: the last convolution block's activations weighted by the gradient of the class score."
            : "Which part of the image raised each output: a convolution block's activations weighted by the gradient of the output's raw value.", v.GradCams);
        if (v.Occlusion is not null) AddPictures("Occlusion", "The same question asked from outside the network: cover one patch of the image at a time and see how much the top class's probability falls.", [v.Occlusion]);
        AddPictures("Input", "The image after resizing to the model's input and its normalisation.", [v.Input]);
        AddPictures("Activation maps", "Every convolution and pooling layer: one tile per channel, labelled with its index; the header gives the layer's output shape.", v.ActivationMaps);
        if (v.Pooling is not null) AddPictures("Pooling explained", null, [v.Pooling]);
        if (v.FirstLayerFilters is not null) AddPictures("First-layer filters", null, [v.FirstLayerFilters]);
        if (v.WeightStatistics.Count > 0) AddPictures("Weight statistics of deeper convolutions", null, v.WeightStatistics);
        if (v.Patterns.Count > 0) AddPictures("What the channels look for", "For each channel, an input grown by gradient ascent to make it fire as strongly as it can: the pattern it detects (textures in convolution layers; for class scores, what the network takes for each class).", v.Patterns);
        return this;
    }

    /// <summary>The complete HTML document.</summary>
    public string ToHtml()
    {
        var sb = new StringBuilder();
        sb.Append("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n");
        sb.Append("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n");
        sb.Append($"<title>{E(Title)}</title>\n<style>{Css}</style></head><body>\n");
        sb.Append($"<header><h1>{E(Title)}</h1><p class=\"muted\">Generated by Fovea on {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC · self-contained, viewable offline</p>\n<nav>");
        sb.Append(string.Join(" · ", _sections.Select(s => $"<a href=\"#{s.Id}\">{E(s.Heading)}</a>")));
        sb.Append("</nav></header>\n<main>\n").Append(_body).Append("</main></body></html>\n");
        return sb.ToString();
    }

    /// <summary>Writes the HTML to <paramref name="path"/> atomically.</summary>
    public void Save(string path) => AtomicWrite.Text(path, ToHtml());

    private static string E(string s) => WebUtility.HtmlEncode(s);

    private const string Css = """
        body { font-family: "DejaVu Sans", system-ui, sans-serif; margin: 0 auto; max-width: 1400px; padding: 0 24px 48px; color: #222; background: #fafafa; }
        header { border-bottom: 1px solid #ddd; margin-bottom: 12px; } h1 { margin: 20px 0 4px; font-size: 26px; }
        h2 { font-size: 20px; margin: 28px 0 8px; border-bottom: 1px solid #e4e4e4; padding-bottom: 4px; }
        nav { margin: 8px 0 14px; font-size: 14px; line-height: 1.7; } a { color: #2a62a8; text-decoration: none; }
        .muted { color: #777; font-size: 13px; } table { border-collapse: collapse; font-size: 13px; background: #fff; }
        th, td { border: 1px solid #ddd; padding: 3px 8px; text-align: left; } th { background: #f0f0f0; } td.num { text-align: right; font-variant-numeric: tabular-nums; }
        tfoot td { font-weight: bold; } figure { margin: 14px 0 22px; } figure img { max-width: 100%; height: auto; border: 1px solid #ddd; background: #fff; display: block; }
        figcaption { font-size: 13px; color: #444; margin-top: 4px; max-width: 1000px; }
        """;
}
