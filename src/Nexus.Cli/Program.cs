using System.CommandLine;
using Nexus.Cli;
using Nexus.Cli.Commands;

var root = new RootCommand("nexus: train, merge and serve Nexus mixture-of-experts models. Each subcommand is one pipeline step.")
{
    TrainCommand.Create(),
    GenerateCommand.Create(),
};
return CliHost.Run(root, args);
