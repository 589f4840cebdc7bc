using System.Formats.Tar;
using System.IO.Compression;

namespace Fovea.Data;

/// <summary>
/// Reads CIFAR-10 binary batches, from extracted files or straight out of cifar-10-binary.tar.gz, and checks them: a batch
/// is a whole number of 3,073-byte records (label byte 0-9, then 3,072 pixel bytes in CHW order), and the batches of a
/// split hold the same number of records (10,000 each in the official release).
/// </summary>
internal static class Cifar10Reader
{
    /// <summary>The batch files <paramref name="files"/>, in order, from <paramref name="folder"/>.</summary>
    public static InMemoryDataset ReadFolder(Cifar10Dataset dataset, string folder, IReadOnlyList<string> files)
    {
        var batches = new List<(string Where, byte[] Bytes)>();
        foreach (string file in files)
        {
            string path = Path.Combine(folder, file);
            long length = new FileInfo(path).Length;
            // Checked before reading, so a file of the wrong kind is named before gigabytes are read.
            if (LengthProblem($"'{path}'", length) is { } problem) throw new InvalidDataException(problem);
            batches.Add(($"'{path}'", File.ReadAllBytes(path)));
        }
        return Assemble(dataset, batches);
    }

    /// <summary>The batch files <paramref name="files"/>, in order, from the folder cifar-10-batches-bin of the gzip'd tar
    /// <paramref name="archive"/>, decompressed as they are read: nothing is extracted to disk.</summary>
    public static InMemoryDataset ReadArchive(Cifar10Dataset dataset, string archive, IReadOnlyList<string> files)
    {
        var contents = new byte[files.Count][];
        var wanted = new Dictionary<string, int>(StringComparer.Ordinal);
        for (int i = 0; i < files.Count; i++) wanted[$"{dataset.FolderName}/{files[i]}"] = i;
        int remaining = files.Count;
        // Set when an entry reads fine but is not what CIFAR-10 holds; thrown once out of the gzip and tar layers' handler.
        string? problem = null;
        try
        {
            using var stream = File.OpenRead(archive);
            using var gzip = new GZipStream(stream, CompressionMode.Decompress);
            using var tar = new TarReader(gzip);
            while (remaining > 0 && tar.GetNextEntry() is { } entry)
            {
                string name = entry.Name.StartsWith("./", StringComparison.Ordinal) ? entry.Name[2..] : entry.Name;
                if (!wanted.TryGetValue(name, out int index) || contents[index] is not null) continue;
                problem = entry.EntryType is not (TarEntryType.RegularFile or TarEntryType.V7RegularFile) || entry.DataStream is null
                    ? $"CIFAR-10 archive '{archive}': {name} is a {entry.EntryType} entry, expected a regular file."
                    : LengthProblem($"'{archive}' entry {name}", entry.Length);
                if (problem is not null) break;
                var bytes = new byte[entry.Length];
                entry.DataStream!.ReadExactly(bytes);
                contents[index] = bytes;
                remaining--;
            }
        }
        catch (Exception e) when (e is EndOfStreamException or FormatException or InvalidDataException)
        {
            // The gzip or tar layer failed: say which file, and how to get a good copy.
            throw new InvalidDataException($"CIFAR-10 archive '{archive}' is damaged or truncated ({e.Message}); {Remedy(dataset)}", e);
        }
        if (problem is not null) throw new InvalidDataException(problem);
        int missing = Array.FindIndex(contents, c => c is null);
        if (missing >= 0)
            throw new InvalidDataException($"CIFAR-10 archive '{archive}' ends without {dataset.FolderName}/{files[missing]}: it is truncated or not {dataset.ArchiveName}; {Remedy(dataset)}");
        return Assemble(dataset, files.Select((f, i) => ($"'{archive}' entry {dataset.FolderName}/{f}", contents[i])).ToList());
    }

    private static string Remedy(Cifar10Dataset dataset) =>
        $"replace it with a good copy of {dataset.BaseUrls[0]}{dataset.ArchiveName} (MD5 {dataset.ArchiveMd5}); one in the cache can simply be deleted, to be downloaded again when online.";

    /// <summary>Null when <paramref name="length"/> is a whole number of records, else what is wrong with the batch at <paramref name="where"/>.</summary>
    private static string? LengthProblem(string where, long length)
    {
        if (length > 0 && length % Cifar10Dataset.RecordSize == 0 && length <= Array.MaxLength) return null;
        return 
            $"CIFAR-10 batch {where} has {length:N0} bytes, not a whole number of {Cifar10Dataset.RecordSize:N0}-byte records " +
            $"(1 label byte, then {Cifar10Dataset.PixelsPerImage:N0} pixel bytes); an official batch holds {Cifar10Dataset.OfficialRecordsPerFile:N0} records, " +
            $"{(long)Cifar10Dataset.OfficialRecordsPerFile * Cifar10Dataset.RecordSize:N0} bytes. It is truncated or not a CIFAR-10 binary batch.";
    }

    /// <summary>The records of <paramref name="batches"/> (each already a whole number of records) as one data set, in order.</summary>
    private static InMemoryDataset Assemble(Cifar10Dataset dataset, List<(string Where, byte[] Bytes)> batches)
    {
        const int record = Cifar10Dataset.RecordSize, image = Cifar10Dataset.PixelsPerImage;
        int firstCount = batches[0].Bytes.Length / record;
        long total = 0;
        foreach (var (where, bytes) in batches)
        {
            int count = bytes.Length / record;
            // A batch cut at a record boundary passes the length check; beside its full siblings it shows.
            if (count != firstCount)
                throw new InvalidDataException($"CIFAR-10 batch {where} holds {count:N0} records but {batches[0].Where} holds {firstCount:N0}; " +
                    $"the batches of a split hold the same number (officially {Cifar10Dataset.OfficialRecordsPerFile:N0}), so one of them is truncated.");
            total += count;
        }
        if (total * image > Array.MaxLength)
            throw new InvalidDataException($"CIFAR-10 batches hold {total:N0} records, more than one array can hold; the official training split has 50,000.");

        var pixels = new byte[total * image];
        var labels = new int[total];
        int n = 0;
        foreach (var (where, bytes) in batches)
        {
            for (int offset = 0; offset < bytes.Length; offset += record, n++)
            {
                int label = bytes[offset];
                if (label >= dataset.ClassNames.Count)
                    throw new InvalidDataException($"CIFAR-10 batch {where} has label {label} in record {offset / record} (byte {offset:N0}); " +
                        $"labels are 0-{dataset.ClassNames.Count - 1}, one per class: the file is damaged or not a CIFAR-10 binary batch.");
                labels[n] = label;
                // The record's pixels are already the red, green and blue planes, row-major: the CHW order of a sample.
                bytes.AsSpan(offset + 1, image).CopyTo(pixels.AsSpan(n * image, image));
            }
        }
        // Kept as bytes (read as value / 255): a quarter of the memory of a float copy (154 MB for the training split, not 614 MB).
        return new InMemoryDataset(pixels, 255f, labels, [Cifar10Dataset.Channels, Cifar10Dataset.ImageSize, Cifar10Dataset.ImageSize], dataset.ClassNames);
    }

}
