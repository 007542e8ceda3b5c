using Nexus.Cli;
using Nexus.Model;
using Nexus.Model.Tokenization;
using Nexus.Training;

using static Nexus.Cli.Tests.CliRun;

namespace Nexus.Cli.Tests;

public sealed class SurgeryCommandTests : IDisposable
{
    private readonly string directory = Path.Combine(Path.GetTempPath(), "nexus-cli-" + Guid.NewGuid().ToString("N"));

    public SurgeryCommandTests() => Directory.CreateDirectory(directory);

    public void Dispose() => Directory.Delete(directory, recursive: true);

    private string Dense(string name, long seed)
    {
        using var model = new LlamaForCausalLM(LlamaConfig.Preset("tiny"));
        model.InitializeWeights(seed);
        var path = Path.Combine(directory, name);
        ModelCheckpoint.Save(model, path, TokenizerFiles.SaveByte);
        return path;
    }

    private static float[] Vector(int seed) => Enumerable.Range(0, 4).Select(i => (float)Math.Sin(seed * 3 + i)).ToArray();

    private string EmbeddingFile(string name, int seed)
    {
        var path = Path.Combine(directory, name + ".embedding.json");
        new DomainEmbedding { Name = name, Vector = Vector(seed) }.Save(path);
        return path;
    }

    /// <summary>A two-expert Nexus MoE (law, poems) with 4-wide domain embeddings.</summary>
    private string Moe()
    {
        var path = Path.Combine(directory, "moe");
        Upcycler.Run(Dense("seed", 1), [new UpcycleExpert("law", Dense("law", 2), Vector(1)), new UpcycleExpert("poems", Dense("poems", 3), Vector(2))],
            RouterKind.Nexus, path);
        return path;
    }

    [Fact]
    public void ExtendsThenRemoves()
    {
        var moe = Moe();
        var extended = Path.Combine(directory, "extended");
        var extend = Invoke("extend", "--model", moe, "--expert", "code=" + Dense("code", 4), "--embedding", EmbeddingFile("code", 3), "--out", extended);
        Assert.True(extend.Code == 0, extend.Error);
        Assert.Contains("3 experts (law, poems, code)", extend.Out);
        Assert.Contains("λ = 1/3", extend.Out);
        Assert.Equal(["law", "poems", "code"], NexusMoeConfig.Load(Path.Combine(extended, "config.json")).ExpertNames);

        var smaller = Path.Combine(directory, "smaller");
        var remove = Invoke("remove", "--model", extended, "--expert", "law", "--out", smaller);
        Assert.True(remove.Code == 0, remove.Error);
        Assert.Contains("2 experts remain (poems, code)", remove.Out);
        Assert.Equal(["poems", "code"], NexusMoeConfig.Load(Path.Combine(smaller, "config.json")).ExpertNames);
    }

    [Fact]
    public void AnEmbeddingOfAnotherDomainIsOneClearLine()
    {
        var moe = Moe();
        AssertOneLineError(Invoke("extend", "--model", moe, "--expert", "code=" + Dense("code", 4), "--embedding", EmbeddingFile("legal", 3),
            "--out", Path.Combine(directory, "out")), "domain embedding of 'legal', not of the new expert 'code'");
        Assert.False(Directory.Exists(Path.Combine(directory, "out")));
    }

    [Fact]
    public void AMissingEmbeddingIsOneClearLine() =>
        AssertOneLineError(Invoke("extend", "--model", Moe(), "--expert", "code=" + Dense("code", 4), "--out", Path.Combine(directory, "out")),
            "nexus embed");

    [Fact]
    public void AnExpertWithoutADirectoryIsOneClearLine() =>
        AssertOneLineError(Invoke("extend", "--model", directory, "--expert", "code", "--out", Path.Combine(directory, "out")), "NAME=DENSE_DIR");

    [Fact]
    public void RemovingAnUnknownExpertIsOneClearLineNamingTheKnownOnes() =>
        AssertOneLineError(Invoke("remove", "--model", Moe(), "--expert", "code", "--out", Path.Combine(directory, "out")), "law, poems");

    [Fact]
    public void ADenseModelIsNotAnMoe() =>
        AssertOneLineError(Invoke("remove", "--model", Dense("dense", 5), "--expert", "law", "--out", Path.Combine(directory, "out")), "nexus_moe");

    [Theory]
    [InlineData("extend", "NAME=DENSE_DIR")]
    [InlineData("remove", "num_experts_per_tok")]
    public void HelpSaysWhatToPass(string command, string expected)
    {
        var help = Invoke(command, "--help");
        Assert.Equal(0, help.Code);
        Assert.Contains(expected, help.Out);
    }
}
