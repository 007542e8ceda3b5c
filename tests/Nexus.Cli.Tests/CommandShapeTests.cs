using System.CommandLine;

namespace Nexus.Cli.Tests;

/// <summary>Properties every command must have, checked over the whole command tree.</summary>
public class CommandShapeTests
{
    /// <summary>Two options of one name make the parser hand the value to one of them silently (extend once had a
    /// router-reset --seed beside the finetune's --seed).</summary>
    [Fact]
    public void NoCommandHasTwoOptionsOfTheSameName()
    {
        foreach (var command in All(NexusCommands.CreateRoot()))
        {
            var duplicates = command.Options.SelectMany(option => option.Aliases.Prepend(option.Name))
                .GroupBy(name => name).Where(group => group.Count() > 1).Select(group => group.Key).ToList();
            Assert.True(duplicates.Count == 0, $"nexus {command.Name}: {string.Join(", ", duplicates)} defined twice");
        }
    }

    private static IEnumerable<Command> All(Command command) => command.Subcommands.SelectMany(All).Prepend(command);
}
