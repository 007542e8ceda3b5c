using System.Runtime.InteropServices;
using Microsoft.Extensions.Logging;
using Nexus.Operator.Bench;

// Nexus.Operator.Bench scale [options]   (see --help; prints one JSON line, then a Markdown table)
// Nexus.Operator.Bench apiserver ...     (the child process `scale` starts)
if (args.Length == 0 || args[0] is "--help" or "-h" || args.Skip(1).Contains("--help"))
{
    Console.WriteLine(ScaleOptions.Usage);
    return args.Length == 0 ? 2 : 0;
}

if (args[0] == "apiserver")
{
    return await ApiServerMode.RunAsync(args[1..]);
}

if (args[0] != "scale")
{
    await Console.Error.WriteLineAsync($"Unknown mode '{args[0]}'.\n\n{ScaleOptions.Usage}");
    return 2;
}

ScaleOptions options;
try
{
    options = ScaleOptions.Parse(args[1..]);
}
catch (FormatException invalid)
{
    await Console.Error.WriteLineAsync($"scale: {invalid.Message}\n\n{ScaleOptions.Usage}");
    return 2;
}

using var stopping = new CancellationTokenSource();
void Stop(PosixSignalContext signal)
{
    // Unwind through the finally blocks, which stop the operator and kill the API server child.
    signal.Cancel = true;
    stopping.Cancel();
}

using var sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, Stop);
using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, Stop);
using var loggers = LoggerFactory.Create(logging => logging
    .SetMinimumLevel(LogLevel.Warning)
    .AddSimpleConsole(text => text.SingleLine = true)
    .AddConsole(console => console.LogToStandardErrorThreshold = LogLevel.Trace));
try
{
    var result = await ScaleBenchmark.RunAsync(options, loggers, stopping.Token);
    Console.WriteLine(result.ToJson());
    Console.WriteLine(result.ToMarkdown());
    return 0;
}
catch (OperationCanceledException) when (stopping.IsCancellationRequested)
{
    await Console.Error.WriteLineAsync("scale: stopped");
    return 130;
}
catch (Exception failure) when (failure is TimeoutException or InvalidOperationException)
{
    await Console.Error.WriteLineAsync($"scale: {failure.Message}");
    return 1;
}
