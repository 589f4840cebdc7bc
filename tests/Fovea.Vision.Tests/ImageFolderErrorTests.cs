namespace Fovea.Vision.Tests;

/// <summary>Every mistake in an image folder is reported with the folder or file it concerns and what was expected.</summary>
public sealed class ImageFolderErrorTests : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("fovea-folder-errors-").FullName;

    public void Dispose() => Directory.Delete(_root, recursive: true);

    private string WriteImage(string relativePath, int label = 0)
    {
        string path = Path.Combine(_root, relativePath);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        using var bitmap = SyntheticFolder.Draw(label, 32, 24, grey: false, new Random(label));
        SyntheticFolder.Save(bitmap, path);
        return path;
    }

    [Fact]
    public void A_missing_root_is_named()
    {
        string missing = Path.Combine(_root, "no-such-folder");
        var e = Assert.Throws<DirectoryNotFoundException>(() => ImageFolder.Load(missing, 3, 8, 8));
        Assert.Contains(missing, e.Message);
    }

    [Fact]
    public void A_root_without_class_folders_explains_the_layout()
    {
        WriteImage("loose.png");
        var e = Assert.Throws<ImageFolderException>(() => ImageFolder.Load(_root, 3, 8, 8));
        Assert.Contains(_root, e.Message);
        Assert.Contains("no class subfolders", e.Message);
        Assert.Contains(Path.Combine(_root, "cat", "1.jpg"), e.Message);
    }

    [Fact]
    public void A_single_class_folder_is_named()
    {
        WriteImage("only/a.png");
        var e = Assert.Throws<ImageFolderException>(() => ImageFolder.Load(_root, 3, 8, 8));
        Assert.Contains("only one class folder ('only')", e.Message);
        Assert.Contains("at least two classes", e.Message);
    }

    [Fact]
    public void A_class_folder_without_images_is_named_with_what_it_holds()
    {
        WriteImage("cats/a.png");
        Directory.CreateDirectory(Path.Combine(_root, "dogs", "sub"));
        File.WriteAllText(Path.Combine(_root, "dogs", "sub", "list.txt"), "not an image");
        var e = Assert.Throws<ImageFolderException>(() => ImageFolder.Load(_root, 3, 8, 8));
        Assert.Contains(Path.Combine(_root, "dogs"), e.Message);
        Assert.Contains("no images", e.Message);
        Assert.Contains(".png, .jpg or .jpeg", e.Message);
        Assert.Contains("1 other file", e.Message);
    }

    [Fact]
    public void An_undecodable_file_is_named_and_the_expected_formats_are_given()
    {
        for (int i = 0; i < 6; i++) WriteImage($"cats/{i}.png", 0);
        for (int i = 0; i < 6; i++) WriteImage($"dogs/{i}.jpg", 2);
        string bad = Path.Combine(_root, "dogs", "3b.jpg");
        File.WriteAllText(bad, "this is text, not a JPEG");
        var e = Assert.Throws<ImageLoadException>(() => ImageFolder.Load(_root, 3, 8, 8));
        Assert.Contains(bad, e.Message);
        Assert.Contains("PNG or JPEG", e.Message);
    }

    [Fact]
    public void A_truncated_jpeg_is_named_as_damaged()
    {
        WriteImage("cats/a.png", 0);
        string good = WriteImage("dogs/b.jpg", 2);
        var bytes = File.ReadAllBytes(good);
        File.WriteAllBytes(good, bytes[..(bytes.Length / 2)]);
        var e = Assert.Throws<ImageLoadException>(() => ImageFolder.Load(_root, 3, 8, 8));
        Assert.Contains(good, e.Message);
        Assert.Contains("damaged or truncated", e.Message);
    }

    [Fact]
    public void A_test_folder_with_a_class_the_model_does_not_know_is_named()
    {
        WriteImage("cats/a.png");
        WriteImage("horses/b.png");
        var e = Assert.Throws<ImageFolderException>(() =>
            ImageFolder.Load(_root, 3, 8, 8, new ImageFolderOptions { ClassNames = ["cats", "dogs"] }));
        Assert.Contains("'horses'", e.Message);
        Assert.Contains("cats, dogs", e.Message);

        // Known classes alone are fine, even one of them, and keep the model's label numbers.
        Directory.Delete(Path.Combine(_root, "cats"), recursive: true);
        Directory.Move(Path.Combine(_root, "horses"), Path.Combine(_root, "dogs"));
        var data = ImageFolder.Load(_root, 3, 8, 8, new ImageFolderOptions { ClassNames = ["cats", "dogs"] });
        Assert.Equal(1, data.GetLabel(0));
    }
}
