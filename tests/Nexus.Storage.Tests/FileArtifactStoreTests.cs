namespace Nexus.Storage.Tests;

public sealed class FileArtifactStoreTests : ArtifactStoreContract
{
    protected override ArtifactStore NewStore() => new FileArtifactStore(ArtifactLocation.Parse(Temp["store-" + Guid.NewGuid().ToString("N")[..8]]));

    protected override ArtifactStore StoreAt(string location) => new FileArtifactStore(ArtifactLocation.Parse(location));

    protected override void Corrupt(ArtifactStore store, string key)
    {
        var path = Path.Combine(store.Location.Path, key);
        var bytes = File.ReadAllBytes(path);
        bytes[bytes.Length / 2] ^= 0xFF;
        File.WriteAllBytes(path, bytes);
    }

    [Fact]
    public async Task TheLayoutIsTheManifestAndOnePublishFolder()
    {
        var store = NewStore();
        await store.PublishAsync(WriteSource("a"));
        var manifest = (await store.PublishAsync(WriteSource("b", seed: 2))).Manifest;

        Assert.Equal(["data", "manifest.json"], Directory.GetFileSystemEntries(store.Location.Path).Select(Path.GetFileName).Order());
        Assert.Equal([manifest.Publish], Directory.GetDirectories(Path.Combine(store.Location.Path, "data")).Select(Path.GetFileName));
        Assert.Empty(Directory.GetFiles(store.Location.Path, "*.tmp-*", SearchOption.AllDirectories));
    }

    [Fact]
    public async Task RemoveAllDeletesTheFolderWhole()
    {
        var store = NewStore();
        await StoreAt(Path.Combine(store.Location.Path, "nested")).PublishAsync(WriteSource("a"));
        File.WriteAllText(Path.Combine(store.Location.Path, "stray.txt"), "not part of any artifact");

        Assert.Equal(6, await store.RemoveAllAsync()); // the manifest, the four files, the stray one

        Assert.False(Directory.Exists(store.Location.Path));
    }
}
