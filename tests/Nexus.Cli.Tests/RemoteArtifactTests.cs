using Nexus.Model;
using Nexus.Model.Tests.Tokenization;
using Nexus.Model.Tokenization;
using Nexus.Storage;
using Nexus.Storage.Tests;
using static Nexus.Cli.Tests.CliRun;

namespace Nexus.Cli.Tests;

/// <summary>Steps that read and write s3:// locations (a loopback s3rver), as Jobs on a cluster do.</summary>
public sealed class RemoteArtifactTests : IDisposable
{
    private readonly string directory = Path.Combine(Path.GetTempPath(), "nexus-remote-" + Guid.NewGuid().ToString("N"));
    private readonly S3rver server = new();
    private readonly Dictionary<string, string?> saved = [];

    public RemoteArtifactTests()
    {
        Directory.CreateDirectory(Path.Combine(directory, "prose"));
        File.WriteAllText(Path.Combine(directory, "prose", "fox.txt"), string.Concat(Enumerable.Repeat("the quick brown fox jumps over the lazy dog. ", 150)));
        var settings = server.Settings;
        Set("NEXUS_S3_ENDPOINT", settings.Endpoint.ToString());
        Set("NEXUS_S3_ACCESS_KEY", settings.AccessKey);
        Set("NEXUS_S3_SECRET_KEY", settings.SecretKey);
        Set("NEXUS_ARTIFACT_CACHE", Path.Combine(directory, "cache"));
        using var store = new S3ArtifactStore(ArtifactLocation.Parse("s3://nexus-cli/any"), settings);
        store.EnsureBucketAsync().GetAwaiter().GetResult();
    }

    private void Set(string name, string value)
    {
        saved[name] = Environment.GetEnvironmentVariable(name);
        Environment.SetEnvironmentVariable(name, value);
    }

    public void Dispose()
    {
        foreach (var (name, value) in saved) Environment.SetEnvironmentVariable(name, value);
        server.Dispose();
        Directory.Delete(directory, recursive: true);
    }

    private static readonly string[] Small = ["--batch-size", "4", "--seq-len", "32", "--threads", "1", "--eval-every", "0"];

    private string[] Train(params string[] extra) =>
        ["train", "--data", Path.Combine(directory, "prose"), "--out", "s3://nexus-cli/runs/seed", "--model-size", "tiny", "--steps", "6",
         "--checkpoint-every", "3", .. Small, .. extra];

    private ArtifactManifest? Manifest(string location)
    {
        using var store = new S3ArtifactStore(ArtifactLocation.Parse(location), server.Settings);
        return store.GetManifestAsync().GetAwaiter().GetResult();
    }

    [Fact]
    public void AStepWritesItsOutputToS3AndTheNextReadsItFromThere()
    {
        var train = Invoke(Train());
        AssertSuccess(train);
        Assert.Contains("Published s3://nexus-cli/runs/seed", train.Error);
        var run = Manifest("s3://nexus-cli/runs/seed")!;
        Assert.Contains(run.Files, f => f.Path == "model/model.safetensors");
        Assert.Contains(run.Files, f => f.Path.StartsWith("checkpoints/step-000006/", StringComparison.Ordinal));

        // A path inside the published run, and a report that is an artifact of one file.
        var evaluate = Invoke("evaluate", "--model", "s3://nexus-cli/runs/seed/model", "--domain", $"prose={Path.Combine(directory, "prose")}",
            "--seq-len", "32", "--threads", "1", "--out", "s3://nexus-cli/reports/seed.json");
        AssertSuccess(evaluate);
        Assert.Equal(["seed.json"], Manifest("s3://nexus-cli/reports/seed.json")!.Files.Select(f => f.Path));
        var generate = Invoke("generate", "--model", "s3://nexus-cli/runs/seed/model", "--prompt", "s3://the", "--max-tokens", "4", "--temperature", "0", "--threads", "1");
        AssertSuccess(generate);
        Assert.StartsWith("s3://the", generate.Out); // a prompt is text, even when it looks like a location
    }

    [Fact]
    public void ResumingAnS3RunStartsFromItsLastPublishedCheckpoint()
    {
        AssertSuccess(Invoke(Train()));
        Directory.Delete(Path.Combine(directory, "cache"), recursive: true); // another machine: nothing local

        var again = Invoke(Train("--resume"));

        AssertSuccess(again);
        Assert.Contains("Fetching s3://nexus-cli/runs/seed to resume from it", again.Error);
        Assert.Contains("Resuming from", again.Out);
        Assert.Contains("step 6", again.Out);
    }

    [Fact]
    public async Task ExportReadsItsModelFromS3_AsTheVllmServingPodsInitContainerDoes()
    {
        var dense = LlamaConfig.Preset("tiny") with { VocabSize = TinyBpeFiles.VocabSize };
        var config = NexusMoeConfig.FromDense(dense, ["law", "code"], RouterKind.Nexus, domainEmbeddingSize: 8);
        var revision = Path.Combine(directory, "r1");
        var local = Path.Combine(revision, "moe");
        using (var model = new NexusMoeForCausalLM(config))
            ModelCheckpoint.Save(model, local, staging => TinyBpeFiles.Write(staging, TinyBpeFiles.Document()));
        using (var store = new S3ArtifactStore(ArtifactLocation.Parse("s3://nexus-cli/models/demo/r1"), server.Settings))
            await store.PublishAsync(revision);
        var output = Path.Combine(directory, "export", "qwen2-moe");

        var export = Invoke("export", "--model", "s3://nexus-cli/models/demo/r1/moe", "--format", "qwen2-moe", "--out", output,
            "--dtype", "bf16", "--require-hf-tokenizer");

        AssertSuccess(export);
        Assert.Contains("Fetching s3://nexus-cli/models/demo/r1", export.Error);
        Assert.Contains("Exported 2 experts", export.Out);
        Assert.Contains("\"model_type\": \"qwen2_moe\"", File.ReadAllText(Path.Combine(output, "config.json")));
        Assert.True(File.Exists(Path.Combine(output, HuggingFaceTokenizer.FileName)));
    }

    [Fact]
    public void AnUnpublishedInputIsAOneLineError()
    {
        AssertOneLineError(Invoke("generate", "--model", "s3://nexus-cli/nothing/here", "--prompt", "a"), "holds no published artifact");
        AssertOneLineError(Invoke("generate", "--model", "s3://Bad_Bucket/x", "--prompt", "a"), "is not an S3 bucket name");
    }
}
