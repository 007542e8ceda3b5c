using Nexus.Cli;

return CliHost.Run(NexusCommands.CreateRoot(), args);
