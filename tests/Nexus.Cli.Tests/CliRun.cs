using Nexus.Cli;

namespace Nexus.Cli.Tests;

/// <summary>Runs the CLI in-process, capturing its output (the tests run one at a time: Console is process-wide).</summary>
internal static class CliRun
{
    public static (int Code, string Out, string Error) Invoke(params string[] args)
    {
        var (stdout, stderr) = (Console.Out, Console.Error);
        using var outWriter = new StringWriter();
        using var errorWriter = new StringWriter();
        Console.SetOut(outWriter);
        Console.SetError(errorWriter);
        try
        {
            var code = CliHost.Run(NexusCommands.CreateRoot(), args);
            return (code, outWriter.ToString(), errorWriter.ToString());
        }
        finally
        {
            Console.SetOut(stdout);
            Console.SetError(stderr);
        }
    }

    public static void AssertOneLineError((int Code, string Out, string Error) result, string expected)
    {
        Assert.True(result.Code == CliHost.BadInput, $"exit {result.Code}: {result.Error}");
        var lines = result.Error.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Single(lines);
        Assert.Contains(expected, lines[0]);
    }

    public static void AssertSuccess((int Code, string Out, string Error) result) =>
        Assert.True(result.Code == CliHost.Success, $"exit {result.Code}: {result.Error}\n{result.Out}");
}
