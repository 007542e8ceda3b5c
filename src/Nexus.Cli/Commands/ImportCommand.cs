using System.CommandLine;
using Nexus.Training;

namespace Nexus.Cli.Commands;

/// <summary><c>nexus import</c>: an existing dense fine-tune of the seed → a verified copy of it, an expert without training (an Expert's spec.import).</summary>
public static class ImportCommand
{
    public static Command Create()
    {
        var model = new Option<string>("--model")
        {
            Description = "The dense fine-tune to import: a model folder (config.json, model.safetensors or shards with their index, tokenizer files).",
            Required = true,
        };
        var seedModel = new Option<string>("--seed-model")
        {
            Description = "The seed model folder it must be a fine-tune of: the same architecture and tokenizer. Only its config and tokenizer are read.",
            Required = true,
        };
        var output = new Option<string>("--out")
        {
            Description = "The model folder to write (atomically): the fine-tune's config, weights (byte for byte) and tokenizer files, " +
                          "and import.json with both locations and each weights file's size in bytes and SHA-256.",
            Required = true,
        };
        var command = new Command("import", "Import a dense fine-tune of the seed as an expert: check its config, tokenizer and tensor headers " +
                                            "against the seed (no weights are loaded), then copy it. A mismatch exits 2 naming the field.")
        {
            model, seedModel, output,
        };
        command.SetAction(async (parsed, _) =>
        {
            var source = parsed.GetValue(model)!;
            var seed = parsed.GetValue(seedModel)!;
            var target = parsed.GetValue(output)!;
            using var shutdown = new ShutdownSignal();
            var record = await DenseImporter.RunAsync(source, seed, target, Location(source), Location(seed), shutdown.Token);
            var bytes = record.Weights.Sum(w => w.Size);
            var hashes = record.Weights.Count == 1 ? $"sha256 {record.Weights[0].Sha256}" : $"{record.Weights.Count} files";
            Console.WriteLine($"Imported {record.Source} as a fine-tune of {record.Seed}: {record.Parameters:N0} parameters, " +
                              $"{bytes:N0} bytes of weights ({hashes}), written to {target}");
            return CliHost.Success;
        });
        return command;
    }

    /// <summary>What import.json records for an input: the s3:// or file:// location it was given as, else its full path.</summary>
    private static string Location(string value) =>
        RemoteArtifacts.LocationOf(value) is var location && location != value ? location : Path.GetFullPath(value);
}
