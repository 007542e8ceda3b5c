using Nexus.Cli;
using static Nexus.Cli.Tests.CliRun;

[assembly: CollectionBehavior(DisableTestParallelization = true)] // the tests capture the process-wide Console

namespace Nexus.Cli.Tests;

public sealed class CliTests : IDisposable
{
    private readonly string directory = Path.Combine(Path.GetTempPath(), "nexus-cli-" + Guid.NewGuid().ToString("N"));

    public CliTests() => Directory.CreateDirectory(directory);

    public void Dispose() => Directory.Delete(directory, recursive: true);

    private string Corpus()
    {
        var path = Path.Combine(directory, "corpus.txt");
        File.WriteAllText(path, string.Concat(Enumerable.Repeat("the quick brown fox jumps over the lazy dog. ", 200)));
        return path;
    }

    [Fact]
    public void TrainsThenGenerates()
    {
        var run = Path.Combine(directory, "run");
        var train = Invoke("train", "--data", Corpus(), "--out", run, "--model-size", "tiny", "--steps", "30",
            "--batch-size", "4", "--seq-len", "32", "--eval-tokens", "256", "--threads", "1");
        Assert.True(train.Code == 0, train.Error);
        Assert.Contains("validation loss", train.Out);
        Assert.True(File.Exists(Path.Combine(run, "model", "config.json")));
        Assert.True(File.Exists(Path.Combine(run, "model", "model.safetensors")));

        var generate = Invoke("generate", "--model", Path.Combine(run, "model"), "--prompt", "the quick", "--max-tokens", "20",
            "--temperature", "0", "--threads", "1");
        Assert.True(generate.Code == 0, generate.Error);
        Assert.StartsWith("the quick", generate.Out);
        Assert.True(generate.Out.TrimEnd().Length > "the quick".Length);
    }

    [Fact]
    public void MissingDataFileIsOneClearLine() =>
        AssertOneLineError(Invoke("train", "--data", "/no/such/file.txt", "--out", directory), "/no/such/file.txt");

    [Fact]
    public void NegativeStepsIsOneClearLine() =>
        AssertOneLineError(Invoke("train", "--data", Corpus(), "--out", directory, "--steps", "-5"), "--steps");

    [Fact]
    public void UnknownDtypeIsOneClearLine() =>
        AssertOneLineError(Invoke("train", "--data", Corpus(), "--out", directory, "--dtype", "f8"), "f8");

    [Fact]
    public void UnknownPresetIsOneClearLine() =>
        AssertOneLineError(Invoke("train", "--data", Corpus(), "--out", directory, "--model-size", "huge"), "huge");

    [Fact]
    public void MissingRequiredOptionIsOneClearLine() =>
        AssertOneLineError(Invoke("train", "--out", directory), "--data");

    [Fact]
    public void NonNumericStepsIsOneClearLine() =>
        AssertOneLineError(Invoke("train", "--data", Corpus(), "--out", directory, "--steps", "many"), "many");

    [Fact]
    public void MissingModelIsOneClearLine() =>
        AssertOneLineError(Invoke("generate", "--model", Path.Combine(directory, "absent"), "--prompt", "hi"), "absent");

    [Fact]
    public void BadTopPIsOneClearLine() =>
        AssertOneLineError(Invoke("generate", "--model", directory, "--prompt", "hi", "--top-p", "1.5"), "top-p");

    [Theory]
    [InlineData("train", "tokens")]
    [InlineData("train", "steps")]
    [InlineData("generate", "Tokens to generate")]
    public void HelpStatesUnits(string command, string expected)
    {
        var help = Invoke(command, "--help");
        Assert.Equal(0, help.Code);
        Assert.Contains(expected, help.Out);
    }
}
