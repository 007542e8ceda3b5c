using static Nexus.Cli.Tests.CliRun;

namespace Nexus.Cli.Tests;

/// <summary>nexus run's flags and inputs; the lifecycle it runs is tested in Nexus.Local.Tests (LocalClusterTests).</summary>
public sealed class RunCommandTests : IDisposable
{
    private readonly string directory = Path.Combine(Path.GetTempPath(), "nexus-run-cli-" + Guid.NewGuid().ToString("N"));

    public RunCommandTests() => Directory.CreateDirectory(directory);

    public void Dispose() => Directory.Delete(directory, recursive: true);

    [Fact]
    public void AMissingPathIsAOneLineErrorNamingIt()
    {
        var missing = Path.Combine(directory, "nothing");

        AssertOneLineError(Invoke("run", missing, "--root", Path.Combine(directory, ".nexus")), $"PATH {missing}: no such file or folder");
        Assert.False(Directory.Exists(Path.Combine(directory, ".nexus")));
    }

    [Fact]
    public void ParallelBelowOneIsAOneLineError()
    {
        AssertOneLineError(Invoke("run", directory, "--root", Path.Combine(directory, ".nexus"), "--parallel", "0"), "--parallel is 0; give at least 1");
    }

    [Fact]
    public void UntilReadyWithNoNexusModelIsAOneLineErrorInsteadOfAWaitForever()
    {
        var result = Invoke("run", directory, "--root", Path.Combine(directory, ".nexus"), "--until-ready", "--no-serve");

        Assert.Equal(CliHost.BadInput, result.Code);
        Assert.Contains("--until-ready waits for NexusModels to be Ready", result.Error);
        Assert.True(File.Exists(Path.Combine(directory, ".nexus", "kubeconfig")));
    }
}
