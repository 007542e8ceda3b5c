using Nexus.Cli;
using Nexus.Model;

try
{
    NativeAllocator.Configure();
}
catch (ArgumentException e)
{
    Console.Error.WriteLine($"nexus: {e.Message}");
    return CliHost.BadInput;
}
return CliHost.Run(NexusCommands.CreateRoot(), args);
