using System.Diagnostics;
using k8s;
using Nexus.Api.V1Alpha1;

namespace Nexus.Testing;

/// <summary>
/// The <c>examples/</c> mix at a size a test can run for real: one small text folder per domain and a tiny seed trained
/// from scratch on them (published under a <c>file://</c> root, as the steps' outputs are), and the example manifests
/// with their locations pointed at those folders and their budgets shrunk to two steps of 2 × 32 tokens.
/// </summary>
internal sealed class TinyExamples(string root)
{
    /// <summary>The domains of the four <c>expert-*.yaml</c> examples; <c>code</c> is the extension's.</summary>
    public static readonly string[] InitialDomains = ["news", "science", "books", "speeches"];

    /// <summary>Writes <c>ROOT/data/DOMAIN/</c> for every domain (code included) and trains the seed into <c>ROOT/seed</c>.</summary>
    public async Task PrepareSeedAndDataAsync()
    {
        foreach (var domain in InitialDomains.Append("code"))
        {
            var folder = Path.Combine(root, "data", domain);
            Directory.CreateDirectory(folder);
            await File.WriteAllTextAsync(Path.Combine(folder, $"{domain}.txt"),
                string.Concat(Enumerable.Range(0, 120).Select(i => $"{domain} text number {i}: the {domain} domain says {i * 7 % 13}. ")));
        }

        var start = new ProcessStartInfo(LocalNexus.Require()) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var argument in (string[])["train", "--data", FileUri(Path.Combine(root, "data")), "--out", FileUri(Path.Combine(root, "seed")),
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
        var seed = new ArtifactSource { Uri = FileUri(Path.Combine(root, "seed", "model")) };
        switch (resource)
        {
            case Expert expert:
                expert.Spec.Seed = seed;
                expert.Spec.Data = new ArtifactSource { Uri = FileUri(Path.Combine(root, "data", expert.Spec.Domain)) };
                Shrink(expert.Spec.Training!);
                expert.Spec.Embedding.SampleTokens = 256;
                break;
            case NexusModel model:
                model.Spec.Seed = seed;
                Shrink(model.Spec.Finetune);
                model.Spec.Extension.Finetune.Steps = 2;
                model.Spec.Extension.Finetune.BatchSize = 2;
                model.Spec.Extension.Finetune.SequenceLength = 32;
                break;
        }

        return resource;
    }

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
