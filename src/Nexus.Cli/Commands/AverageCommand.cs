using System.CommandLine;
using Nexus.Training;

namespace Nexus.Cli.Commands;

/// <summary><c>nexus average</c>: N dense models → their uniform parameter average, a dense model (the merging baseline).</summary>
public static class AverageCommand
{
    public static Command Create()
    {
        var models = new Option<string[]>("--model") { Description = "A dense model folder to average (repeat; at least one).", Required = true };
        var output = new Option<string>("--out") { Description = "The dense model folder to write (atomically).", Required = true };
        var command = new Command("average", "Average dense models of one architecture tensor by tensor into one dense model (the parameter-averaging baseline).")
        {
            models, output,
        };
        command.SetAction(parsed =>
        {
            var sources = parsed.GetValue(models)!;
            var target = parsed.GetValue(output)!;
            var config = DenseAverager.Run(sources, target);
            Console.WriteLine($"Averaged {sources.Length} dense models: {config.ParameterCount():N0} parameters, written to {target}");
            return CliHost.Success;
        });
        return command;
    }
}
