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
        var batches = new List<(string Path, string Where, int Count)>();
        foreach (string file in files)
        {
            string path = Path.Combine(folder, file);
            long length = new FileInfo(path).Length;
            // Checked before reading, so a file of the wrong kind is named before gigabytes are read.
            if (LengthProblem($"'{path}'", length) is { } problem) throw new InvalidDataException(problem);
            batches.Add((path, $"'{path}'", (int)(length / Cifar10Dataset.RecordSize)));
        }
        // Every batch's size is known before any is read, so the records go straight into the data set's arrays.
        for (int i = 1; i < batches.Count; i++)
            if (CountProblem(batches[i].Where, batches[i].Count, batches[0].Where, batches[0].Count) is { } problem) throw new InvalidDataException(problem);
        if (SizeProblem(batches[0].Count, batches.Count) is { } tooMany) throw new InvalidDataException(tooMany);
        var records = new Records(dataset, batches[0].Count, batches.Count);
        for (int i = 0; i < batches.Count; i++)
        {
            var (path, where, count) = batches[i];
            // Unbuffered: Records reads whole chunks of records into a buffer of its own.
            using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, bufferSize: 0, FileOptions.SequentialScan);
            try
            {
                if (records.Read(stream, i, where) is { } problem) throw new InvalidDataException(problem);
            }
            catch (EndOfStreamException e)
            {
                throw new InvalidDataException($"CIFAR-10 batch {where} ended before its {count:N0} records " +
                    $"({(long)count * Cifar10Dataset.RecordSize:N0} bytes when loading began): it was cut short while being read.", e);
            }
        }
        return records.ToDataset();
    }

    /// <summary>The batch files <paramref name="files"/>, in order, from the folder cifar-10-batches-bin of the gzip'd tar
    /// <paramref name="archive"/>, decompressed as they are read, straight into the data set: nothing is extracted to disk.</summary>
    public static InMemoryDataset ReadArchive(Cifar10Dataset dataset, string archive, IReadOnlyList<string> files)
    {
        var wanted = new Dictionary<string, int>(StringComparer.Ordinal);
        for (int i = 0; i < files.Count; i++) wanted[$"{dataset.FolderName}/{files[i]}"] = i;
        var done = new bool[files.Count];
        int remaining = files.Count;
        // Sized by the first batch found (the batches of a split hold the same number of records), in whatever order the
        // archive holds them; each later one is checked against it before it is read.
        Records? records = null;
        string? first = null;
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
                if (!wanted.TryGetValue(name, out int index) || done[index]) continue;
                string where = $"'{archive}' entry {name}";
                problem = entry.EntryType is not (TarEntryType.RegularFile or TarEntryType.V7RegularFile) || entry.DataStream is null
                    ? $"CIFAR-10 archive '{archive}': {name} is a {entry.EntryType} entry, expected a regular file."
                    : LengthProblem(where, entry.Length);
                // The data set's arrays are sized from the entry's header before its data is read: deflate expands at most
                // 1032 : 1, so a damaged size beyond that is refused first (a 7 KB archive claimed 512 MB of records).
                if (problem is null && entry.Length > stream.Length * MaxDeflateRatio)
                    problem = $"CIFAR-10 archive '{archive}': entry {name} claims {entry.Length:N0} bytes, more than {stream.Length:N0} compressed bytes " +
                        $"can hold: it is damaged; {Remedy(dataset)}";
                if (problem is not null) break;
                int count = (int)(entry.Length / Cifar10Dataset.RecordSize);
                problem = records is null ? SizeProblem(count, files.Count) : CountProblem(where, count, first!, records.PerBatch);
                if (problem is not null) break;
                if (records is null) (records, first) = (new Records(dataset, count, files.Count), where);
                problem = records.Read(entry.DataStream!, index, where);
                if (problem is not null) break;
                done[index] = true;
                remaining--;
            }
        }
        // .NET's TarReader reports some damaged headers as OverflowException (a number or date out of range) or
        // InvalidOperationException (an extended-attributes size too large), not as format errors.
        catch (Exception e) when (e is EndOfStreamException or FormatException or InvalidDataException or OverflowException or InvalidOperationException)
        {
            // The gzip or tar layer failed: say which file, and how to get a good copy.
            throw new InvalidDataException($"CIFAR-10 archive '{archive}' is damaged or truncated ({e.Message}); {Remedy(dataset)}", e);
        }
        if (problem is not null) throw new InvalidDataException(problem);
        int missing = Array.IndexOf(done, false);
        if (missing >= 0)
            throw new InvalidDataException($"CIFAR-10 archive '{archive}' ends without {dataset.FolderName}/{files[missing]}: it is truncated or not {dataset.ArchiveName}; {Remedy(dataset)}");
        return records!.ToDataset();
    }

    /// <summary>The most deflate (gzip) expands data: 258 bytes from each 2-bit code, about 1032 : 1.</summary>
    private const long MaxDeflateRatio = 1032;

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

    /// <summary>Null when the batch at <paramref name="where"/> holds as many records as <paramref name="other"/>, else what is wrong.</summary>
    private static string? CountProblem(string where, int count, string other, int otherCount) =>
        // A batch cut at a record boundary passes the length check; beside its full siblings it shows.
        count == otherCount ? null
            : $"CIFAR-10 batch {where} holds {count:N0} records but {other} holds {otherCount:N0}; " +
              $"the batches of a split hold the same number (officially {Cifar10Dataset.OfficialRecordsPerFile:N0}), so one of them is truncated.";

    /// <summary>Null when <paramref name="batches"/> batches of <paramref name="perBatch"/> records fit in one array, else what is wrong.</summary>
    private static string? SizeProblem(int perBatch, int batches)
    {
        long total = (long)perBatch * batches;
        return total * Cifar10Dataset.PixelsPerImage <= Array.MaxLength ? null
            : $"CIFAR-10 batches hold {total:N0} records, more than one array can hold; the official training split has 50,000.";
    }

    /// <summary>
    /// The arrays of the data set being loaded, allocated once at their final size: each batch is read from its stream a
    /// chunk of records at a time (about 64 KB, one buffer for all batches) and its label bytes and pixels copied into
    /// their places, so no batch is ever held whole beside them.
    /// </summary>
    private sealed class Records
    {
        /// <summary>Records read at once: 64,533 bytes.</summary>
        private const int ChunkRecords = 21;

        private readonly Cifar10Dataset _dataset;
        private readonly byte[] _pixels;
        private readonly int[] _labels;
        private readonly byte[] _chunk;

        /// <summary>Room for <paramref name="batches"/> batches of <paramref name="perBatch"/> records (checked by <see cref="SizeProblem"/>).</summary>
        public Records(Cifar10Dataset dataset, int perBatch, int batches)
        {
            long total = (long)perBatch * batches;
            _dataset = dataset;
            PerBatch = perBatch;
            _pixels = new byte[total * Cifar10Dataset.PixelsPerImage];
            _labels = new int[total];
            _chunk = new byte[Math.Min(perBatch, ChunkRecords) * Cifar10Dataset.RecordSize];
        }

        /// <summary>Records in each batch.</summary>
        public int PerBatch { get; }

        /// <summary>Reads batch <paramref name="batch"/>'s records from <paramref name="stream"/> into their place; null, or
        /// what is wrong with a label of the batch at <paramref name="where"/>. A stream that ends early throws.</summary>
        public string? Read(Stream stream, int batch, string where)
        {
            const int record = Cifar10Dataset.RecordSize, image = Cifar10Dataset.PixelsPerImage;
            for (int r = 0; r < PerBatch;)
            {
                int records = Math.Min(ChunkRecords, PerBatch - r);
                stream.ReadExactly(_chunk.AsSpan(0, records * record));
                for (int j = 0; j < records; j++, r++)
                {
                    int n = batch * PerBatch + r;
                    byte label = _chunk[j * record];
                    if (label >= _dataset.ClassNames.Count)
                        return $"CIFAR-10 batch {where} has label {label} in record {r} (byte {(long)r * record:N0}); " +
                            $"labels are 0-{_dataset.ClassNames.Count - 1}, one per class: the file is damaged or not a CIFAR-10 binary batch.";
                    _labels[n] = label;
                    // The record's pixels are already the red, green and blue planes, row-major: the CHW order of a sample.
                    _chunk.AsSpan(j * record + 1, image).CopyTo(_pixels.AsSpan(n * image, image));
                }
            }
            return null;
        }

        /// <summary>The data set over the arrays (wrapped, not copied). Kept as bytes (read as value / 255): a quarter of the
        /// memory of a float copy (154 MB for the training split, not 614 MB).</summary>
        public InMemoryDataset ToDataset() =>
            new(_pixels, 255f, _labels, [Cifar10Dataset.Channels, Cifar10Dataset.ImageSize, Cifar10Dataset.ImageSize], _dataset.ClassNames);
    }
}
