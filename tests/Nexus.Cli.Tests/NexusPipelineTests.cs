using System.Text.Json.Nodes;
using static Nexus.Cli.Tests.CliRun;

namespace Nexus.Cli.Tests;

/// <summary>The method's steps as a user runs them: train → embed → upcycle → finetune → evaluate → generate.</summary>
public sealed class NexusPipelineTests : IDisposable
{
    private readonly string directory = Path.Combine(Path.GetTempPath(), "nexus-pipeline-" + Guid.NewGuid().ToString("N"));

    public NexusPipelineTests() => Directory.CreateDirectory(directory);

    public void Dispose() => Directory.Delete(directory, recursive: true);

    private string P(string name) => Path.Combine(directory, name);

    private static readonly string[] Small = ["--batch-size", "4", "--seq-len", "32", "--threads", "1"];

    private void WriteDomains()
    {
        Directory.CreateDirectory(P("prose"));
        File.WriteAllText(P("prose/fox.txt"), string.Concat(Enumerable.Repeat("the quick brown fox jumps over the lazy dog. ", 150)));
        Directory.CreateDirectory(P("code"));
        File.WriteAllText(P("code/loop.c"), string.Concat(Enumerable.Range(0, 300).Select(i => $"for (i = 0; i < {i % 9}; i++) x[i] = {i % 7};\n")));
    }

    private void TrainSeedAndExperts()
    {
        WriteDomains();
        AssertSuccess(Invoke(["train", "--data", P("prose"), P("code"), "--out", P("seed"), "--model-size", "tiny", "--steps", "8", "--eval-every", "0", .. Small]));
        foreach (var domain in new[] { "prose", "code" })
        {
            AssertSuccess(Invoke(["train", "--init", P("seed/model"), "--data", P(domain), "--out", P($"{domain}-run"), "--steps", "6", "--eval-every", "0", .. Small]));
            AssertSuccess(Invoke(["embed", "--name", domain, "--model", P("seed/model"), "--data", P(domain), "--sample-tokens", "256", "--seq-len", "32", "--threads", "1",
                "--out", P($"{domain}.embedding.json")]));
        }
    }

    [Fact]
    public void TheWholeMethodRunsStepByStep()
    {
        TrainSeedAndExperts();
        var upcycle = Invoke("upcycle", "--seed-model", P("seed/model"), "--expert", $"prose={P("prose-run/model")}", "--expert", $"code={P("code-run/model")}",
            "--embedding", P("code.embedding.json"), "--embedding", P("prose.embedding.json"), "--out", P("moe"));
        AssertSuccess(upcycle);
        Assert.Contains("Upcycled 2 experts (prose, code) with a nexus router", upcycle.Out);

        AssertSuccess(Invoke(["finetune", "--model", P("moe"), "--domain", $"prose={P("prose")}", "--domain", $"code={P("code")}", "--mix", "uniform",
            "--out", P("ft"), "--steps", "6", "--checkpoint-every", "3", .. Small]));
        var state = JsonNode.Parse(File.ReadAllText(Directory.GetFiles(P("ft/checkpoints"), "state.json", SearchOption.AllDirectories).Max()!))!;
        Assert.Equal("prose=0.5,code=0.5", (string)state["options"]!["Mix"]!);

        var evaluate = Invoke("evaluate", "--model", P("ft/model"), "--domain", $"prose={P("prose")}", "--domain", $"code={P("code")}",
            "--seq-len", "32", "--threads", "1", "--out", P("report.json"));
        AssertSuccess(evaluate);
        Assert.Contains("| prose |", evaluate.Out);
        var report = JsonNode.Parse(File.ReadAllText(P("report.json")))!;
        Assert.Equal("nexus_moe", (string)report["model_type"]!);
        Assert.All(report["domains"]!.AsArray(), d => Assert.Equal(1.0, d!["routing"]!["average"]!.AsArray().Sum(v => (double)v!), 1e-9));
        foreach (var png in new[] { "routing.png", "routing-layer-00.png", "routing-layer-01.png" })
            Assert.Equal([0x89, (byte)'P', (byte)'N', (byte)'G'], File.ReadAllBytes(P(png))[..4]);

        var generate = Invoke("generate", "--model", P("ft/model"), "--prompt", "the quick", "--max-tokens", "8", "--temperature", "0", "--threads", "1");
        AssertSuccess(generate);
        Assert.StartsWith("the quick", generate.Out);
    }

    [Fact]
    public void ExtendingAndRemovingRunTheirShortFinetuneOnTheRightMix()
    {
        TrainSeedAndExperts();
        AssertSuccess(Invoke("upcycle", "--seed-model", P("seed/model"), "--expert", $"prose={P("prose-run/model")}",
            "--embedding", P("prose.embedding.json"), "--out", P("moe1")));
        var domains = new[] { "--domain", $"prose={P("prose")}", "--domain", $"code={P("code")}" };

        var extend = Invoke(["extend", "--model", P("moe1"), "--expert", $"code={P("code-run/model")}", "--embedding", P("code.embedding.json"),
            "--out", P("moe2"), .. domains, "--steps", "4", "--finetune-out", P("extend-ft"), .. Small]);
        AssertSuccess(extend);
        Assert.Contains("prose=0.5,code=0.5", extend.Out); // the 50/50 mix of the old domain and the new one
        Assert.True(File.Exists(P("extend-ft/model/model.safetensors")));

        var remove = Invoke(["remove", "--model", P("extend-ft/model"), "--expert", "prose", "--out", P("moe3"),
            "--domain", $"code={P("code")}", "--steps", "3", "--finetune-out", P("remove-ft"), .. Small]);
        AssertSuccess(remove);
        Assert.Contains("1 experts remain (code)", remove.Out);
        Assert.True(File.Exists(P("remove-ft/model/model.safetensors")));

        AssertOneLineError(Invoke(["extend", "--model", P("moe1"), "--expert", $"code={P("code-run/model")}", "--embedding", P("code.embedding.json"),
            "--out", P("moe4"), "--steps", "4", "--finetune-out", P("x")]), "give its data with --domain");
        Assert.False(Directory.Exists(P("moe4"))); // checked before the surgery
    }

    [Fact]
    public void AUserSuppliedVectorBecomesADomainEmbedding()
    {
        File.WriteAllText(P("vector.txt"), "0.5, -1.25\n3e-2 4");
        AssertSuccess(Invoke("embed", "--name", "legal", "--vector", P("vector.txt"), "--out", P("legal.json")));
        var embedding = JsonNode.Parse(File.ReadAllText(P("legal.json")))!;
        Assert.Equal([0.5, -1.25, 0.03, 4.0], embedding["vector"]!.AsArray().Select(v => Math.Round((double)v!, 6)));

        File.WriteAllText(P("bad.txt"), "1 2 three");
        AssertOneLineError(Invoke("embed", "--name", "legal", "--vector", P("bad.txt"), "--out", P("x.json")), "entry 2 ('three') is not a finite number");
    }

    [Fact]
    public void BadInputsAreOneLineErrors()
    {
        TrainSeedAndExperts();
        var experts = new[] { "--expert", $"prose={P("prose-run/model")}", "--expert", $"code={P("code-run/model")}" };
        AssertOneLineError(Invoke(["upcycle", "--seed-model", P("seed/model"), .. experts, "--router", "hash", "--out", P("m")]), "--router 'hash' is not a router");
        AssertOneLineError(Invoke(["upcycle", "--seed-model", P("seed/model"), .. experts, "--embedding", P("prose.embedding.json"), "--out", P("m")]),
            "Expert 'code' has no domain embedding");
        AssertOneLineError(Invoke(["upcycle", "--seed-model", P("seed/model"), "--expert", $"prose={P("prose-run/model")}", "--embedding", P("code.embedding.json"), "--out", P("m")]),
            "is for 'code', which is not an expert here");
        AssertOneLineError(Invoke(["upcycle", "--seed-model", P("seed/model"), "--expert", "prose", "--out", P("m")]), "is not NAME=PATH");
        Assert.False(Directory.Exists(P("m")));

        AssertOneLineError(Invoke(["finetune", "--model", P("seed/model"), "--domain", $"prose={P("prose")}", "--out", P("f"), .. Small]), "holds a dense model");
        AssertSuccess(Invoke(["upcycle", "--seed-model", P("seed/model"), .. experts, "--router", "linear", "--out", P("linear")]));
        AssertOneLineError(Invoke(["finetune", "--model", P("linear"), "--domain", $"prose={P("prose")}", "--mix", "prose=1,law=2", "--out", P("f"), .. Small]),
            "'law', which is not a domain");
        AssertOneLineError(Invoke("evaluate", "--model", P("linear"), "--domain", $"prose={P("missing")}", "--out", P("r.json")), "does not exist");
    }
}
