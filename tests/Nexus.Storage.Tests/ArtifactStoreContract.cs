using System.Security.Cryptography;

namespace Nexus.Storage.Tests;

/// <summary>The behaviour every back end owes: the same tests run against a local folder and against s3rver.</summary>
public abstract class ArtifactStoreContract : IDisposable
{
    protected readonly TempFolder Temp = new();

    public virtual void Dispose() => Temp.Dispose();

    /// <summary>A store at a fresh location.</summary>
    protected abstract ArtifactStore NewStore();

    /// <summary>A store at <paramref name="location"/>, on the same back end as <see cref="NewStore"/>.</summary>
    protected abstract ArtifactStore StoreAt(string location);

    /// <summary>Flips one byte of the stored object <paramref name="key"/> (relative to the store's location), keeping its size.</summary>
    protected abstract void Corrupt(ArtifactStore store, string key);

    /// <summary>A model-like folder: nested files, an empty one and one of a few MB.</summary>
    protected string WriteSource(string name, int seed = 1)
    {
        var folder = Temp[name];
        Directory.CreateDirectory(Path.Combine(folder, "checkpoints", "step-000100"));
        File.WriteAllText(Path.Combine(folder, "config.json"), $"{{\"seed\": {seed}}}");
        File.WriteAllBytes(Path.Combine(folder, "empty.txt"), []);
        var weights = new byte[3 * 1024 * 1024 + 17];
        new Random(seed).NextBytes(weights);
        File.WriteAllBytes(Path.Combine(folder, "model.safetensors"), weights);
        File.WriteAllText(Path.Combine(folder, "checkpoints", "step-000100", "state.json"), "{}");
        return folder;
    }

    private static Dictionary<string, string> Hashes(string folder) =>
        Directory.GetFiles(folder, "*", SearchOption.AllDirectories).ToDictionary(
            path => Path.GetRelativePath(folder, path), path => Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes(path))));

    [Fact]
    public async Task APublishedFolderComesBackByteForByte()
    {
        var store = NewStore();
        Assert.Null(await store.GetManifestAsync());
        var source = WriteSource("source");

        var published = (await store.PublishAsync(source)).Manifest;
        var fetched = await store.FetchAsync(Temp["copy"]);

        Assert.Equal(Hashes(source), Hashes(Temp["copy"]));
        Assert.Equal(published, fetched);
        Assert.Equal(["checkpoints/step-000100/state.json", "config.json", "empty.txt", "model.safetensors"], published.Files.Select(f => f.Path));
        Assert.Equal(3 * 1024 * 1024 + 17, published.Files.Single(f => f.Path == "model.safetensors").Size);
        Assert.Empty(Directory.GetDirectories(Temp.Path, "copy.partial-*"));
    }

    [Fact]
    public async Task ARepublishReplacesTheArtifactAndTheOldFilesGo()
    {
        var store = NewStore();
        var first = (await store.PublishAsync(WriteSource("one", seed: 1))).Manifest;
        var second = (await store.PublishAsync(WriteSource("two", seed: 2))).Manifest;

        Assert.NotEqual(first.Publish, second.Publish);
        Assert.Equal(second, await store.GetManifestAsync());
        await store.FetchAsync(Temp["copy"]);
        Assert.Equal(Hashes(Temp["two"]), Hashes(Temp["copy"]));
        foreach (var (key, _, _) in first.Files.SelectMany(first.Objects)) Assert.False(await store.ExistsAsync(key), $"{key} is still stored");
        foreach (var (key, _, _) in second.Files.SelectMany(second.Objects)) Assert.True(await store.ExistsAsync(key), $"{key} is missing");
    }

    [Fact]
    public async Task FetchingReplacesAnExistingFolderWholeAndNothingIsLeftOnFailure()
    {
        var store = NewStore();
        await store.PublishAsync(WriteSource("source"));
        Directory.CreateDirectory(Temp["copy"]);
        File.WriteAllText(Temp["copy/stale.txt"], "from before");

        await store.FetchAsync(Temp["copy"]);
        Assert.False(File.Exists(Temp["copy/stale.txt"]));

        var manifest = (await store.GetManifestAsync())!;
        Corrupt(store, manifest.Objects(manifest.Files.Single(f => f.Path == "model.safetensors"))[^1].Key);
        var error = await Assert.ThrowsAsync<ArtifactIntegrityException>(() => store.FetchAsync(Temp["other"]));
        Assert.Contains("model.safetensors: SHA-256", error.Message);
        Assert.Contains("corrupt", error.Message);
        Assert.False(Directory.Exists(Temp["other"]));
        Assert.Empty(Directory.GetDirectories(Temp.Path, "other.partial-*"));
        Assert.True(File.Exists(Temp["copy/model.safetensors"])); // an earlier good copy is untouched
    }

    [Fact]
    public async Task RemoveAllRemovesEveryArtifactUnderTheLocation_AndNothingBesideIt()
    {
        var revision = NewStore();
        var upcycled = StoreAt($"{revision.Location}/b-1/upcycled");
        var run = StoreAt($"{revision.Location}/b-1/finetune");
        var sibling = StoreAt($"{revision.Location}0"); // r1 and r10: a common start, not a common folder
        var upcycledManifest = (await upcycled.PublishAsync(WriteSource("upcycled", seed: 1))).Manifest;
        var runManifest = (await run.PublishAsync(WriteSource("run", seed: 2))).Manifest;
        await sibling.PublishAsync(WriteSource("sibling", seed: 3));
        var objects = new[] { upcycledManifest, runManifest }.Sum(manifest => 1 + manifest.Files.Sum(file => manifest.Objects(file).Count));

        Assert.Equal(objects, await revision.RemoveAllAsync());

        Assert.Null(await upcycled.GetManifestAsync());
        Assert.Null(await run.GetManifestAsync());
        foreach (var (key, _, _) in upcycledManifest.Files.SelectMany(upcycledManifest.Objects)) Assert.False(await upcycled.ExistsAsync(key), $"{key} is still stored");
        await sibling.FetchAsync(Temp["copy"]);
        Assert.Equal(Hashes(Temp["sibling"]), Hashes(Temp["copy"]));
        Assert.Equal(0, await revision.RemoveAllAsync());
    }

    [Fact]
    public async Task AnEmptyLocationIsAClearNotFound()
    {
        var store = NewStore();
        var error = await Assert.ThrowsAsync<ArtifactNotFoundException>(() => store.FetchAsync(Temp["copy"]));
        Assert.Contains(store.Location.ToString(), error.Message);
        Assert.False(Directory.Exists(Temp["copy"]));
    }
}
