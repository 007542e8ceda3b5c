using System.CommandLine;
using Nexus.Api.Crds;
using Nexus.Operator.Hosting;

namespace Nexus.Operator;

/// <summary>
/// <c>nexus-operator</c>'s commands: <c>run</c> (the default) reconciles Expert, NexusModel and Extension resources;
/// <c>crds</c> writes their CustomResourceDefinitions, generated from the C# types (the source of crds/ and the chart),
/// and optionally the Markdown reference rendered from them (docs/reference/crds.md).
/// </summary>
public static class OperatorCommands
{
    /// <summary>Parses <paramref name="args"/> and runs the command. A command line that does not parse, or settings
    /// (flags and environment) that are invalid, exit 2 with one line per problem on <paramref name="error"/>, before
    /// <paramref name="run"/> is called.</summary>
    /// <param name="args">The command line.</param>
    /// <param name="run">Runs the operator with the parsed options.</param>
    /// <param name="error">Where the problems go (standard error).</param>
    /// <param name="environment">Reads an environment variable; the process's environment when null.</param>
    public static async Task<int> InvokeAsync(
        IReadOnlyList<string> args, Func<OperatorCommandLine, CancellationToken, Task<int>> run, TextWriter error,
        Func<string, string?>? environment = null)
    {
        var parsed = CreateRoot(run, environment).Parse(args);
        if (parsed.Errors.Count > 0)
        {
            foreach (var problem in parsed.Errors)
                await error.WriteLineAsync($"nexus-operator: {problem.Message}");
            await error.WriteLineAsync("nexus-operator: see --help for the options.");
            return 2;
        }

        // SIGTERM and SIGINT are handled by run (reconciles cancelled, the Lease released), not by the library.
        return await parsed.InvokeAsync(new InvocationConfiguration { ProcessTerminationTimeout = null });
    }

    /// <summary>The root command (which runs the operator), <c>run</c> and <c>crds</c>.</summary>
    /// <param name="run">Runs the operator with the parsed options.</param>
    /// <param name="environment">Reads an environment variable, for settings whose flag is absent; the process's
    /// environment when null.</param>
    public static RootCommand CreateRoot(Func<OperatorCommandLine, CancellationToken, Task<int>> run, Func<string, string?>? environment = null)
    {
        var runOptions = new OperatorCommandLine.Options(environment ?? Environment.GetEnvironmentVariable);
        var root = new RootCommand(
            "nexus-operator: reconciles Expert, NexusModel and Extension resources (nexus.moe/v1alpha1). Reads the " +
            "in-cluster service account, or the kubeconfig named by KUBECONFIG (default ~/.kube/config).");
        runOptions.AddTo(root);
        root.SetAction((parsed, cancellation) => run(runOptions.Bind(parsed), cancellation));

        var runCommand = new Command("run", "Run the operator (the default command).");
        runOptions.AddTo(runCommand);
        runCommand.SetAction((parsed, cancellation) => run(runOptions.Bind(parsed), cancellation));
        root.Subcommands.Add(runCommand);

        root.Subcommands.Add(CreateCrdsCommand());
        return root;
    }

    private static Command CreateCrdsCommand()
    {
        var output = new Option<string>("--out")
        {
            Description = "Folder to write the CRD files to (nexus.moe_experts.yaml, ...); each is replaced atomically.",
            DefaultValueFactory = _ => "crds",
        };
        var reference = new Option<string?>("--reference")
        {
            Description = "Also write the Markdown field reference rendered from those CRDs to this file (the " +
                          "repository's is docs/reference/crds.md); it is replaced atomically.",
        };
        var command = new Command("crds", "Write the CustomResourceDefinitions generated from the API types.") { output, reference };
        command.SetAction(parsed =>
        {
            foreach (var path in CrdGenerator.WriteAll(parsed.GetValue(output)!))
                Console.WriteLine(path);
            if (parsed.GetValue(reference) is { } referencePath)
            {
                CrdReference.Write(referencePath);
                Console.WriteLine(referencePath);
            }
            return 0;
        });
        return command;
    }
}
