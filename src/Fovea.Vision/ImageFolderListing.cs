namespace Fovea.Vision;

/// <summary>Thrown when a folder is not laid out as an image folder (too few classes, a class without images, an unknown class).</summary>
public sealed class ImageFolderException(string message) : Exception(message);

/// <summary>
/// The image files of an image folder and their classes, found without decoding anything. The layout: one subfolder
/// of <see cref="Root"/> per class, named after the class; the class's images (.png, .jpg, .jpeg, any letter case)
/// anywhere inside it, subfolders included. Class names are the subfolder names in ordinal order (label i =
/// ClassNames[i]); files are in ordinal order of their path within each class. Other files are ignored, and so are
/// hidden entries (names starting with '.', such as .DS_Store, macOS "._photo.jpg" side files or .ipynb_checkpoints).
/// </summary>
/// <param name="Root">The folder, as given.</param>
/// <param name="ClassNames">Class names; label i names ClassNames[i].</param>
/// <param name="Files">Path of every image, class by class.</param>
/// <param name="Labels">Label of every image, aligned with <paramref name="Files"/>.</param>
public sealed record ImageFolderListing(string Root, IReadOnlyList<string> ClassNames, IReadOnlyList<string> Files, IReadOnlyList<int> Labels)
{
    /// <summary>File extensions read as images (compared without regard to case).</summary>
    public static IReadOnlyList<string> ImageExtensions { get; } = [".png", ".jpg", ".jpeg"];

    /// <summary>Number of images.</summary>
    public int Count => Files.Count;

    /// <summary>Lists the images of <paramref name="root"/>.</summary>
    /// <param name="root">The image folder.</param>
    /// <param name="classNames">Null (default) to take the classes from the subfolders (at least two required). Given
    /// (e.g. a trained model's classes, for a separate test folder), every subfolder must be one of these names, labels
    /// are positions in this list, and one class folder is enough.</param>
    /// <exception cref="DirectoryNotFoundException"><paramref name="root"/> does not exist.</exception>
    /// <exception cref="ImageFolderException">Fewer than two class folders, a class folder without images, or a class
    /// folder not in <paramref name="classNames"/>; the message names the folder.</exception>
    public static ImageFolderListing Scan(string root, IReadOnlyList<string>? classNames = null)
    {
        ArgumentNullException.ThrowIfNull(root);
        if (!Directory.Exists(root))
            throw new DirectoryNotFoundException(File.Exists(root)
                ? $"{root} is a file; an image folder (one subfolder of images per class) was expected."
                : $"Image folder not found: {root}");
        var classFolders = Visible(Directory.GetDirectories(root)).ToList();
        if (classNames is null && classFolders.Count < 2)
        {
            int loose = Directory.GetFiles(root).Count(IsImageFile);
            string looseNote = loose == 0 ? "" : $" The {loose} image{(loose == 1 ? "" : "s")} directly in {root} belong{(loose == 1 ? "s" : "")} to no class.";
            if (classFolders.Count == 0)
                throw new ImageFolderException($"{root} has no class subfolders. An image folder holds one subfolder per class, named after the class, " +
                    $"with that class's images inside (for example {Path.Combine(root, "cat", "1.jpg")} and {Path.Combine(root, "dog", "2.png")}).{looseNote}");
            throw new ImageFolderException($"{root} has only one class folder ('{Path.GetFileName(classFolders[0])}'); a classifier needs at least two classes, each in its own subfolder.{looseNote}");
        }
        if (classFolders.Count == 0)
            throw new ImageFolderException($"{root} has no class subfolders; expected subfolders named after the classes ({string.Join(", ", classNames!)}).");

        var names = classNames?.ToArray() ?? classFolders.Select(Path.GetFileName).Select(n => n!).ToArray();
        var files = new List<string>();
        var labels = new List<int>();
        foreach (var folder in classFolders)
        {
            string name = Path.GetFileName(folder);
            int label = Array.IndexOf(names, name);
            if (label < 0)
                throw new ImageFolderException($"{root} has a class folder '{name}' that is not one of the known classes ({string.Join(", ", names)}).");
            var images = ImagesUnder(folder, out int others);
            if (images.Count == 0)
                throw new ImageFolderException($"Class folder {folder} has no images: expected .png, .jpg or .jpeg files in it or its subfolders" +
                    (others > 0 ? $" (it holds {others} other file{(others == 1 ? "" : "s")})." : " (it is empty)."));
            files.AddRange(images);
            labels.AddRange(Enumerable.Repeat(label, images.Count));
        }
        return new ImageFolderListing(root, names, files, labels);
    }

    /// <summary>True when <paramref name="fileName"/> has an image extension (<see cref="ImageExtensions"/>) and is not hidden.</summary>
    public static bool IsImageFile(string fileName)
    {
        string name = Path.GetFileName(fileName);
        return !name.StartsWith('.') && ImageExtensions.Any(e => name.EndsWith(e, StringComparison.OrdinalIgnoreCase));
    }

    /// <summary>
    /// Every image file (<see cref="IsImageFile"/>) anywhere under <paramref name="folder"/>, subfolders included, in ordinal
    /// order of their paths, by the rules of a class folder: other files and hidden entries are skipped, and a folder
    /// linked back up the tree is not listed again. Each path starts with <paramref name="folder"/> as given. Nothing is
    /// decoded. Empty when the folder holds no images.
    /// </summary>
    /// <exception cref="DirectoryNotFoundException"><paramref name="folder"/> does not exist.</exception>
    public static IReadOnlyList<string> FindImages(string folder) => FindImages(folder, out _);

    /// <summary>As <see cref="FindImages(string)"/>; <paramref name="otherFiles"/> counts the visible files skipped as not images
    /// (for a message saying why a folder has no images).</summary>
    /// <exception cref="DirectoryNotFoundException"><paramref name="folder"/> does not exist.</exception>
    public static IReadOnlyList<string> FindImages(string folder, out int otherFiles)
    {
        ArgumentNullException.ThrowIfNull(folder);
        if (!Directory.Exists(folder))
            throw new DirectoryNotFoundException(File.Exists(folder) ? $"{folder} is a file; a folder of images was expected." : $"Folder not found: {folder}");
        return ImagesUnder(folder, out otherFiles);
    }

    // The search itself; Scan calls it for folders it has already seen exist.
    private static List<string> ImagesUnder(string folder, out int others)
    {
        var images = new List<string>();
        others = 0;
        // Folders are followed by where they really are: a link back up the tree (cat/loop -> ..) would otherwise
        // list the folder, and its siblings' images, again and again under this class.
        string realRoot = RealPath(folder, null);
        var visited = new HashSet<string>(StringComparer.Ordinal);
        var pending = new Stack<(string Path, string Real)>();
        pending.Push((folder, realRoot));
        while (pending.Count > 0)
        {
            var (dir, real) = pending.Pop();
            if (!visited.Add(real)) continue;
            foreach (var file in Visible(Directory.GetFiles(dir)))
            {
                if (IsImageFile(file)) images.Add(file);
                else others++;
            }
            foreach (var sub in Visible(Directory.GetDirectories(dir)).Reverse())
            {
                string subReal = RealPath(sub, real);
                bool upTheTree = realRoot == subReal || realRoot.StartsWith(subReal + Path.DirectorySeparatorChar, StringComparison.Ordinal);
                if (!upTheTree) pending.Push((sub, subReal));
            }
        }
        images.Sort(StringComparer.Ordinal);
        return images;
    }

    /// <summary>Where a folder really is: its link target, else its name inside its parent's real path.</summary>
    private static string RealPath(string dir, string? realParent)
    {
        string? target = new DirectoryInfo(dir).ResolveLinkTarget(returnFinalTarget: true)?.FullName;
        string real = target ?? (realParent is null ? Path.GetFullPath(dir) : Path.Combine(realParent, Path.GetFileName(dir)));
        return Path.TrimEndingDirectorySeparator(real);
    }

    private static IEnumerable<string> Visible(IEnumerable<string> paths) =>
        paths.Where(p => !Path.GetFileName(p).StartsWith('.')).Order(StringComparer.Ordinal);
}
