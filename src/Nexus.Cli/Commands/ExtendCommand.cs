using System.CommandLine;
using Nexus.Model;
using Nexus.Training;

namespace Nexus.Cli.Commands;

/// <summary><c>nexus extend</c>: appends a dense expert to a Nexus MoE (no finetuning).</summary>
public static class ExtendCommand
{
    public static Command Create()
    {
        var model = new Option<string>("--model") { Description = "The Nexus MoE folder to extend (config.json with model_type nexus_moe, weights, tokenizer).", Required = true };
        var expert = new Option<string>("--expert") { Description = "The new expert as NAME=DENSE_DIR: its name and its dense model folder (same architecture as the MoE).", Required = true };
        var embedding = new Option<string?>("--embedding") { Description = "The expert's domain-embedding file (from `nexus embed`); its name must be NAME. Required for a nexus router, unused by a linear one." };
        var output = new Option<string>("--out") { Description = "Folder for the extended MoE (replaced atomically if it exists).", Required = true };
        var seed = new Option<long>("--router-seed") { Description = "Seed for the reset of a linear router (N(0, 0.02)); a nexus router keeps its trained projection. (--seed seeds the finetune.)", DefaultValueFactory = _ => 0 };

        var command = new Command("extend",
            "Append a dense expert to a Nexus MoE: its FFN becomes the last routed expert, every non-FFN parameter becomes " +
            "(1−λ)·MoE + λ·expert with λ = 1/(experts+1), and the router takes the new domain embedding (a linear router is reset). " +
            "With --steps, a short finetune follows on a 50/50 mix of the new domain and the old ones.")
        {
            model, expert, embedding, output, seed,
        };
        var finetune = new FinetuneCommand.FollowUp("extension:NAME");
        finetune.AddTo(command);
        command.SetAction(parsed =>
        {
            var (name, denseDirectory) = ParseExpert(parsed.GetValue(expert)!);
            finetune.Validate(parsed);
            var embeddingPath = parsed.GetValue(embedding);
            float[]? vector = null;
            if (embeddingPath is not null)
            {
                var loaded = DomainEmbedding.Load(embeddingPath);
                if (loaded.Name != name)
                    throw new ArgumentException($"--embedding {embeddingPath} is the domain embedding of '{loaded.Name}', not of the new expert '{name}'.");
                vector = loaded.Vector;
            }
            var moeDirectory = parsed.GetValue(model)!;
            var outputDirectory = parsed.GetValue(output)!;

            var config = ExpertSurgery.Extend(moeDirectory, new UpcycleExpert(name, denseDirectory, vector), outputDirectory, parsed.GetValue(seed));

            var router = config.Router == RouterKind.Nexus
                ? "nexus router: projection kept, domain embedding appended"
                : $"linear router: reset (seed {parsed.GetValue(seed)})" + (vector is null ? "" : ", --embedding not used");
            Console.WriteLine($"Extended {moeDirectory} with '{name}' ({denseDirectory}) into {outputDirectory}: {config.NumExperts} experts " +
                              $"({string.Join(", ", config.ExpertNames)}); non-FFN parameters merged with λ = 1/{config.NumExperts}; {router}.");
            finetune.RunIfAsked(parsed, outputDirectory, $"extension:{name}");
            return CliHost.Success;
        });
        return command;
    }

    private static (string Name, string Directory) ParseExpert(string text)
    {
        var split = text.IndexOf('=');
        if (split <= 0 || split == text.Length - 1)
            throw new ArgumentException($"--expert must be NAME=DENSE_DIR (got '{text}').");
        return (text[..split], text[(split + 1)..]);
    }
}
