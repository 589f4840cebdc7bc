using System.Runtime.ExceptionServices;
using Fovea.Vision;

namespace Fovea.Cli.Commands;

/// <summary>
/// IMAGE arguments that may be files or folders (fovea predict): a folder stands for every image under it, found by the
/// rules of a training folder's class folders (<see cref="ImageFolderListing.FindImages(string)"/>).
/// </summary>
internal static class ImageArguments
{
    /// <summary>
    /// The image files named by <paramref name="arguments"/>, in argument order: a file as given, a folder as its images
    /// in ordinal path order. A missing file or a folder without images is a one-line error naming it.
    /// </summary>
    public static List<string> Expand(IEnumerable<string> arguments)
    {
        var files = new List<string>();
        foreach (var argument in arguments)
        {
            if (!Directory.Exists(argument))
            {
                // Either was meant: the message should not send the user looking for a file when a folder name was mistyped.
                if (!string.IsNullOrWhiteSpace(argument) && !File.Exists(argument))
                    throw new FileNotFoundException($"Image file or folder not found: {argument}", argument);
                files.Add(CliFiles.Input(argument, "Image file"));
                continue;
            }
            CliFiles.ReadableFolder(argument, "Image folder");
            var found = ImageFolderListing.FindImages(argument, out int others);
            if (found.Count == 0)
                throw new UsageException($"Folder {argument} has no images: expected .png, .jpg or .jpeg files in it or its subfolders" +
                    (others > 0 ? $" (it holds {others} other file{(others == 1 ? "" : "s")})." : " (it holds no files)."));
            files.AddRange(found);
        }
        return files;
    }

    /// <summary>
    /// Reads the header of every file, on <see cref="Parallelism.Degree"/> threads, so that a file that is no image stops the
    /// command before any predicting rather than after hours of it; reports the first such file in list order.
    /// </summary>
    /// <exception cref="ImageLoadException">A file is not a readable image; the message names it.</exception>
    public static void CheckHeaders(IReadOnlyList<string> files)
    {
        var gate = new object();
        ImageLoadException? first = null;
        int firstIndex = int.MaxValue;
        Parallel.For(0, files.Count, new ParallelOptions { MaxDegreeOfParallelism = Parallelism.Degree }, i =>
        {
            try { ImageLoader.ReadSize(files[i]); }
            catch (ImageLoadException e)
            {
                // Every file is checked, so the one named is the first bad file whatever the threads' timing.
                lock (gate) if (i < firstIndex) (first, firstIndex) = (e, i);
            }
        });
        if (first is not null) ExceptionDispatchInfo.Throw(first);
    }
}
