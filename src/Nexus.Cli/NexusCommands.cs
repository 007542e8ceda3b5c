using System.CommandLine;
using Nexus.Cli.Commands;

namespace Nexus.Cli;

public static class NexusCommands
{
    public static RootCommand CreateRoot() =>
        new("nexus: train, merge and serve Nexus mixture-of-experts models. Each subcommand is one pipeline step.")
        {
            DataCommand.Create(),
            TrainCommand.Create(),
            ImportCommand.Create(),
            EmbedCommand.Create(),
            UpcycleCommand.Create(),
            AverageCommand.Create(),
            FinetuneCommand.Create(),
            ExtendCommand.Create(),
            RemoveCommand.Create(),
            EvaluateCommand.Create(),
            ExportCommand.Create(),
            GenerateCommand.Create(),
            ServeCommand.Create(),
            RunCommand.Create(),
        };
}
