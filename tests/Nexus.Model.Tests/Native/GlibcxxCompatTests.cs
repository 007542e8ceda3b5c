namespace Nexus.Model.Tests.Native;

public sealed class GlibcxxCompatTests : IDisposable
{
    private const string LibraryName = "libLibTorchSharp.so";

    private readonly TempDirectory _directory = new();

    public void Dispose() => _directory.Dispose();

    /// <summary>The library as TorchSharp ships it, in the NuGet cache that restoring this project filled.</summary>
    private static string PristineLibrary()
    {
        var version = typeof(TorchSharp.torch).Assembly.GetName().Version!;
        var packagesRoot = Environment.GetEnvironmentVariable("NUGET_PACKAGES") is { Length: > 0 } fromEnvironment
            ? fromEnvironment
            : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".nuget", "packages");
        var path = Path.Combine(packagesRoot, "torchsharp", $"{version.Major}.{version.Minor}.{version.Build}",
            "runtimes", "linux-x64", "native", LibraryName);
        Assert.True(File.Exists(path), $"{path} is missing; restoring this project should have put it there.");
        return path;
    }

    private string CopyOfPristineLibrary()
    {
        var copy = _directory.File(LibraryName);
        File.Copy(PristineLibrary(), copy);
        return copy;
    }

    // A version such as GLIBC_2.2.5 can be needed from several libraries, so needs are not unique by name.
    private static bool IsGlibcxxNeedWeak(string path) =>
        Assert.Single(GlibcxxCompat.ReadVersionNeeds(path), need => need.Key == GlibcxxCompat.Version).Value;

    [Fact]
    public void ShippedLibraryNeedsGlibcxx3432Strongly()
    {
        var library = CopyOfPristineLibrary();

        Assert.False(IsGlibcxxNeedWeak(library));
        Assert.Contains(GlibcxxCompat.ReadVersionNeeds(library), need => need.Key == "GLIBC_2.2.5");
    }

    [Fact]
    public void MakeVersionNeedWeakChangesOnlyThatNeedsFlag()
    {
        var library = CopyOfPristineLibrary();
        var before = GlibcxxCompat.ReadVersionNeeds(library);
        var originalBytes = File.ReadAllBytes(library);

        Assert.Equal(WeakenResult.Weakened, GlibcxxCompat.MakeVersionNeedWeak(library, GlibcxxCompat.Version));

        var after = GlibcxxCompat.ReadVersionNeeds(library);
        Assert.Equal(before.Count, after.Count);
        for (var i = 0; i < before.Count; i++)
        {
            Assert.Equal(before[i].Key, after[i].Key);
            var expectedWeak = before[i].Key == GlibcxxCompat.Version || before[i].Value;
            Assert.Equal(expectedWeak, after[i].Value);
        }

        var patchedBytes = File.ReadAllBytes(library);
        Assert.Equal(originalBytes.Length, patchedBytes.Length);
        var differing = Enumerable.Range(0, originalBytes.Length).Count(i => originalBytes[i] != patchedBytes[i]);
        Assert.InRange(differing, 1, 2);
    }

    [Fact]
    public void SecondCallReportsAlreadyWeakAndWritesNothing()
    {
        var library = CopyOfPristineLibrary();
        GlibcxxCompat.MakeVersionNeedWeak(library, GlibcxxCompat.Version);
        var onceBytes = File.ReadAllBytes(library);

        Assert.Equal(WeakenResult.AlreadyWeak, GlibcxxCompat.MakeVersionNeedWeak(library, GlibcxxCompat.Version));

        Assert.Equal(onceBytes, File.ReadAllBytes(library));
    }

    [Fact]
    public void VersionThatIsNotNeededReportsNotNeeded()
    {
        var library = CopyOfPristineLibrary();
        var originalBytes = File.ReadAllBytes(library);

        Assert.Equal(WeakenResult.NotNeeded, GlibcxxCompat.MakeVersionNeedWeak(library, "GLIBCXX_99.0"));

        Assert.Equal(originalBytes, File.ReadAllBytes(library));
    }

    [Fact]
    public void NonElfFileIsInvalidData()
    {
        var path = _directory.File("not-elf.so");
        File.WriteAllText(path, new string('x', 4096));

        var error = Assert.Throws<InvalidDataException>(() => GlibcxxCompat.MakeVersionNeedWeak(path, GlibcxxCompat.Version));
        Assert.Contains(path, error.Message);
        Assert.Throws<InvalidDataException>(() => GlibcxxCompat.ReadVersionNeeds(path));
    }

    [Theory]
    [InlineData(0)]
    [InlineData(16)]
    [InlineData(63)]
    [InlineData(64)]
    [InlineData(4096)]
    [InlineData(-1)]
    public void TruncatedElfIsInvalidData(int length)
    {
        var original = File.ReadAllBytes(PristineLibrary());
        var path = _directory.File("truncated.so");
        File.WriteAllBytes(path, original.AsSpan(0, length >= 0 ? length : original.Length / 2).ToArray());

        Assert.Throws<InvalidDataException>(() => GlibcxxCompat.ReadVersionNeeds(path));
        Assert.Throws<InvalidDataException>(() => GlibcxxCompat.MakeVersionNeedWeak(path, GlibcxxCompat.Version));
    }

    [Fact]
    public void ElfWhoseVersionSectionPointsPastTheEndIsInvalidData()
    {
        // Keeps the section headers intact but points .gnu.version_r at the file's last bytes, so the parser has
        // to bounds-check the Verneed entries themselves, not just the section table.
        var image = File.ReadAllBytes(PristineLibrary());
        var sectionHeaderOffset = (int)BitConverter.ToUInt64(image, 0x28);
        int sectionHeaderSize = BitConverter.ToUInt16(image, 0x3A);
        int sectionCount = BitConverter.ToUInt16(image, 0x3C);
        var verneed = Enumerable.Range(0, sectionCount)
            .Select(i => sectionHeaderOffset + i * sectionHeaderSize)
            .Single(header => BitConverter.ToUInt32(image, header + 4) == 0x6ffffffe);
        BitConverter.TryWriteBytes(image.AsSpan(verneed + 0x18), (ulong)(image.Length - 4));
        var path = _directory.File("corrupt.so");
        File.WriteAllBytes(path, image);

        Assert.Throws<InvalidDataException>(() => GlibcxxCompat.ReadVersionNeeds(path));
        Assert.Throws<InvalidDataException>(() => GlibcxxCompat.MakeVersionNeedWeak(path, GlibcxxCompat.Version));
    }

    [Fact]
    public void BuildOutputCopyIsWeakExactlyWhenSystemLibStdCxxLacksTheVersion()
    {
        var systemLibStdCxx = GlibcxxCompat.FindSystemLibStdCxx();
        var systemLacksVersion = systemLibStdCxx is not null && !GlibcxxCompat.Defines(systemLibStdCxx, GlibcxxCompat.Version);
        var outputCopy = Path.Combine(AppContext.BaseDirectory, LibraryName);
        Assert.True(File.Exists(outputCopy), $"{outputCopy} is missing; the build should copy TorchSharp's native library.");

        Assert.Equal(systemLacksVersion, IsGlibcxxNeedWeak(outputCopy));
        if (!systemLacksVersion) Assert.Equal(File.ReadAllBytes(PristineLibrary()), File.ReadAllBytes(outputCopy));
    }

    [Fact]
    public void DefinesFindsVersionsInTheSystemLibStdCxx()
    {
        var systemLibStdCxx = GlibcxxCompat.FindSystemLibStdCxx();
        Assert.NotNull(systemLibStdCxx);

        Assert.True(GlibcxxCompat.Defines(systemLibStdCxx, "GLIBCXX_3.4"));
        Assert.False(GlibcxxCompat.Defines(systemLibStdCxx, "GLIBCXX_99.0"));
    }

    [Fact]
    public void TorchSharpLoadsAndComputes()
    {
        using var ones = TorchSharp.torch.ones(2, 2);
        using var sum = ones.sum();

        Assert.Equal(4f, sum.item<float>());
    }
}
