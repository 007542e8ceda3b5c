using System.Diagnostics;
using Nexus.Cli;

namespace Nexus.Cli.Tests;

/// <summary>The real `nexus` process: SIGTERM (a pod being stopped) checkpoints, exits 130, and --resume finishes.</summary>
public sealed class SignalTests : IDisposable
{
    private readonly string directory = Path.Combine(Path.GetTempPath(), "nexus-signal-" + Guid.NewGuid().ToString("N"));

    public SignalTests() => Directory.CreateDirectory(directory);

    public void Dispose() => Directory.Delete(directory, recursive: true);

    private Process Start(params string[] args)
    {
        var info = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        info.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "nexus.dll"));
        foreach (var arg in args) info.ArgumentList.Add(arg);
        return Process.Start(info)!;
    }

    [Fact]
    public async Task SigtermCheckpointsAndResumeFinishes()
    {
        var corpus = Path.Combine(directory, "corpus.txt");
        await File.WriteAllTextAsync(corpus, string.Concat(Enumerable.Repeat("a sea of words and whales. ", 400)));
        var run = Path.Combine(directory, "run");
        string[] train = ["train", "--data", corpus, "--out", run, "--model-size", "tiny", "--steps", "1500",
            "--batch-size", "4", "--seq-len", "32", "--checkpoint-every", "0", "--eval-tokens", "128", "--threads", "1"];

        using (var process = Start(train))
        {
            var metrics = Path.Combine(run, "metrics.jsonl");
            var deadline = DateTime.UtcNow.AddSeconds(60);
            while (!(File.Exists(metrics) && new FileInfo(metrics).Length > 0) && DateTime.UtcNow < deadline) await Task.Delay(100);
            Assert.True(File.Exists(metrics), "training never started");
            Process.Start("kill", ["-TERM", process.Id.ToString()])!.WaitForExit();
            Assert.True(process.WaitForExit(60_000), "nexus did not stop after SIGTERM");
            Assert.Equal(CliHost.Cancelled, process.ExitCode);
        }
        var checkpoint = Directory.GetDirectories(Path.Combine(run, "checkpoints"), "step-*").Single();
        var stoppedAt = long.Parse(Path.GetFileName(checkpoint)["step-".Length..]);
        Assert.True(stoppedAt > 0);

        // The same command with --resume picks up from that checkpoint and finishes.
        using var resumed = Start([.. train, "--resume"]);
        var output = await resumed.StandardOutput.ReadToEndAsync();
        var errors = await resumed.StandardError.ReadToEndAsync();
        await resumed.WaitForExitAsync();
        Assert.True(resumed.ExitCode == 0, errors);
        Assert.Contains($"Resuming from {checkpoint} at step {stoppedAt}", output);
        Assert.Contains("Trained 1500 steps", output);
    }
}
