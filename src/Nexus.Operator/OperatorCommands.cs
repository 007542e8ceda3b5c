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
    public static RootCommand CreateRoot(Func<OperatorCommandLine, CancellationToken, Task<int>> run)
    {
        var runOptions = new OperatorCommandLine.Options();
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
