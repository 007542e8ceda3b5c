using System.Diagnostics;
using k8s;
using Nexus.Api.V1Alpha1;

namespace Nexus.Testing;

/// <summary>
/// The <c>examples/</c> mix at a size a test can run for real: one small text folder per domain and a tiny seed trained
/// from scratch on them (published under a <c>file://</c> root, as the steps' outputs are), and the example manifests
/// with their budgets shrunk to two steps of 2 × 32 tokens and their locations pointed at those folders — or, with
/// <paramref name="asLocalBuckets"/>, left as written (<c>s3://corpora/nexus-data/DOMAIN</c>, <c>s3://models/runs/seed/model</c>)
/// with the data and seed at those places under <paramref name="root"/>, which then stands for S3 as <c>nexus run</c>'s
/// local buckets do.
/// </summary>
internal sealed class TinyExamples(string root, bool asLocalBuckets = false)
{
    /// <summary>The domains of the four <c>expert-*.yaml</c> examples; <c>code</c> is the extension's.</summary>
    public static readonly string[] InitialDomains = ["news", "science", "books", "speeches"];

    /// <summary>Writes <c>ROOT/data/DOMAIN/</c> for every domain (code included) and trains the seed into <c>ROOT/seed</c>.</summary>
    public async Task PrepareSeedAndDataAsync()
    {
        foreach (var domain in InitialDomains.Append("code"))
        {
            var folder = Path.Combine(DataRoot, domain);
            Directory.CreateDirectory(folder);
            await File.WriteAllTextAsync(Path.Combine(folder, $"{domain}.txt"),
                string.Concat(Enumerable.Range(0, 120).Select(i => $"{domain} text number {i}: the {domain} domain says {i * 7 % 13}. ")));
        }

        var start = new ProcessStartInfo(LocalNexus.Require()) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var argument in (string[])["train", "--data", FileUri(DataRoot), "--out", FileUri(SeedRun),
                     "--model-size", "tiny", "--steps", "2", "--batch-size", "2", "--seq-len", "32", "--eval-tokens", "64",
                     "--checkpoint-every", "0", "--threads", "1"])
        {
            start.ArgumentList.Add(argument);
        }

        start.Environment["NEXUS_ARTIFACT_CACHE"] = Path.Combine(root, "cache");
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        Assert.True(process.ExitCode == 0, await stdout + await stderr);
    }

    /// <summary>An example manifest as written (<paramref name="file"/> relative to <c>examples/</c>), its seed and data
    /// pointed at this root's folders and its budgets shrunk.</summary>
    public T Load<T>(string file)
    {
        var resource = KubernetesYaml.Deserialize<T>(File.ReadAllText(Path.Combine(RepositoryRoot.Path, "examples", file)));
        var seed = asLocalBuckets ? null : new ArtifactSource { Uri = FileUri(Path.Combine(SeedRun, "model")) };
        switch (resource)
        {
            case Expert expert:
                expert.Spec.Seed = seed ?? expert.Spec.Seed;
                expert.Spec.Data = asLocalBuckets ? expert.Spec.Data : new ArtifactSource { Uri = FileUri(Path.Combine(DataRoot, expert.Spec.Domain)) };
                Shrink(expert.Spec.Training!);
                expert.Spec.Embedding.SampleTokens = 256;
                break;
            case NexusModel model:
                model.Spec.Seed = seed ?? model.Spec.Seed;
                Shrink(model.Spec.Finetune);
                model.Spec.Extension.Finetune.Steps = 2;
                model.Spec.Extension.Finetune.BatchSize = 2;
                model.Spec.Extension.Finetune.SequenceLength = 32;
                break;
        }

        return resource;
    }

    /// <summary>The folder of one text folder per domain (the examples' <c>s3://corpora/nexus-data</c>).</summary>
    private string DataRoot => asLocalBuckets ? Path.Combine(root, "corpora", "nexus-data") : Path.Combine(root, "data");

    /// <summary>The seed's run, its model at <c>model/</c> (the examples' <c>s3://models/runs/seed</c>).</summary>
    private string SeedRun => asLocalBuckets ? Path.Combine(root, "models", "runs", "seed") : Path.Combine(root, "seed");

    public static string FileUri(string path) => new Uri(path).AbsoluteUri;

    private static void Shrink(TrainingBudget budget)
    {
        budget.Steps = 2;
        budget.BatchSize = 2;
        budget.SequenceLength = 32;
        budget.WarmupSteps = 0;
        budget.CheckpointEverySteps = 2;
    }
}
