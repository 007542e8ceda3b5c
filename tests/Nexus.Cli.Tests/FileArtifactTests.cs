using Nexus.Storage;
using static Nexus.Cli.Tests.CliRun;

namespace Nexus.Cli.Tests;

/// <summary>
/// Steps that read and write file:// locations: a local artifact root is an artifact store like a bucket (manifest,
/// atomic publish, verified fetch), as <c>nexus run</c> uses it; a file:// folder of text written by hand is read as is.
/// </summary>
public sealed class FileArtifactTests : IDisposable
{
    private readonly string directory = Path.Combine(Path.GetTempPath(), "nexus-file-" + Guid.NewGuid().ToString("N"));
    private readonly string? savedCache = Environment.GetEnvironmentVariable("NEXUS_ARTIFACT_CACHE");

    public FileArtifactTests()
    {
        Directory.CreateDirectory(Path.Combine(directory, "prose"));
        File.WriteAllText(Path.Combine(directory, "prose", "fox.txt"), string.Concat(Enumerable.Repeat("the quick brown fox jumps over the lazy dog. ", 150)));
        Environment.SetEnvironmentVariable("NEXUS_ARTIFACT_CACHE", Path.Combine(directory, "cache"));
    }

    public void Dispose()
    {
        Environment.SetEnvironmentVariable("NEXUS_ARTIFACT_CACHE", savedCache);
        Directory.Delete(directory, recursive: true);
    }

    private string Root => $"file://{directory}/artifacts";

    private static readonly string[] Small = ["--batch-size", "4", "--seq-len", "32", "--threads", "1", "--eval-every", "0"];

    private string[] Train(params string[] extra) =>
        ["train", "--data", $"file://{directory}/prose", "--out", $"{Root}/runs/seed", "--model-size", "tiny", "--steps", "6",
         "--checkpoint-every", "3", .. Small, .. extra];

    private static ArtifactManifest? Manifest(string location) =>
        new FileArtifactStore(ArtifactLocation.Parse(location)).GetManifestAsync().GetAwaiter().GetResult();

    [Fact]
    public void AStepPublishesItsOutputUnderAFileRoot_AndTheNextFetchesItFromThere()
    {
        var train = Invoke(Train());
        AssertSuccess(train);
        Assert.Contains($"Published {Root}/runs/seed", train.Error);
        var run = Manifest($"{Root}/runs/seed")!;
        Assert.Contains(run.Files, f => f.Path == "model/model.safetensors");
        Assert.Contains(run.Files, f => f.Path.StartsWith("checkpoints/step-000006/", StringComparison.Ordinal));
        // The published layout, not a plain folder: the files are under data/PUBLISH/.
        Assert.True(File.Exists(Path.Combine(directory, "artifacts", "runs", "seed", "data", run.Publish, "model", "model.safetensors")));
        Assert.False(Directory.Exists(Path.Combine(directory, "artifacts", "runs", "seed", "model")));

        var evaluate = Invoke("evaluate", "--model", $"{Root}/runs/seed/model", "--domain", $"prose=file://{directory}/prose",
            "--seq-len", "32", "--threads", "1", "--out", $"{Root}/reports/seed.json");
        AssertSuccess(evaluate);
        Assert.Contains($"Fetching {Root}/runs/seed", evaluate.Error);
        Assert.Equal(["seed.json"], Manifest($"{Root}/reports/seed.json")!.Files.Select(f => f.Path));
    }

    [Fact]
    public void ResumingAFileRunStartsFromItsLastPublishedCheckpoint()
    {
        AssertSuccess(Invoke(Train()));
        Directory.Delete(Path.Combine(directory, "cache"), recursive: true);

        var again = Invoke(Train("--resume"));

        AssertSuccess(again);
        Assert.Contains($"Fetching {Root}/runs/seed to resume from it", again.Error);
        Assert.Contains("Resuming from", again.Out);
        Assert.Contains("step 6", again.Out);
    }

    [Fact]
    public void AFetchIsVerified_ATamperedFileIsAnErrorNamingIt()
    {
        AssertSuccess(Invoke(Train()));
        var publish = Manifest($"{Root}/runs/seed")!.Publish;
        var weights = Path.Combine(directory, "artifacts", "runs", "seed", "data", publish, "model", "model.safetensors");
        var bytes = File.ReadAllBytes(weights);
        bytes[^1] ^= 0xff;
        File.WriteAllBytes(weights, bytes);

        var generate = Invoke("generate", "--model", $"{Root}/runs/seed/model", "--prompt", "the", "--max-tokens", "2", "--threads", "1");

        Assert.NotEqual(CliHost.Success, generate.Code);
        Assert.Contains("model.safetensors", generate.Error);
    }

    [Fact]
    public void AFileInputThatNoArtifactHoldsIsItsFolder_AndAPlainPathIsNotPublished()
    {
        var plain = Path.Combine(directory, "plain");
        var train = Invoke(["train", "--data", $"file://{directory}/prose", "--out", plain, "--model-size", "tiny", "--steps", "2", "--checkpoint-every", "0", .. Small]);

        AssertSuccess(train);
        Assert.DoesNotContain("Published", train.Error);
        Assert.True(File.Exists(Path.Combine(plain, "model", "model.safetensors")));
        Assert.False(File.Exists(Path.Combine(plain, ArtifactManifest.FileName)));
        var missing = Invoke(["train", "--data", $"file://{directory}/no-such-data", "--out", $"{Root}/runs/x", "--steps", "1", .. Small]);
        AssertOneLineError(missing, "does not exist");
    }
}
