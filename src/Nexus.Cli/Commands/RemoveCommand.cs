using System.CommandLine;
using Nexus.Training;

namespace Nexus.Cli.Commands;

/// <summary><c>nexus remove</c>: takes an expert out of a Nexus MoE (no retraining).</summary>
public static class RemoveCommand
{
    public static Command Create()
    {
        var model = new Option<string>("--model") { Description = "The Nexus MoE folder (config.json with model_type nexus_moe, weights, tokenizer).", Required = true };
        var expert = new Option<string>("--expert") { Description = "Name of the expert to remove (one of the config's expert_names).", Required = true };
        var output = new Option<string>("--out") { Description = "Folder for the smaller MoE (replaced atomically if it exists).", Required = true };
        var topK = new Option<int?>("--top-k") { Description = "Experts per token in the result; default: the model's num_experts_per_tok, which must not exceed the experts that remain." };

        var command = new Command("remove",
            "Remove an expert from a Nexus MoE: its FFN and router row are dropped, later experts move down one, everything else " +
            "is copied bit for bit. The remaining experts keep their router logits; nothing is retrained unless --steps asks for a short finetune.")
        {
            model, expert, output, topK,
        };
        var finetune = new FinetuneCommand.FollowUp("uniform");
        finetune.AddTo(command);
        command.SetAction(parsed =>
        {
            finetune.Validate(parsed);
            var moeDirectory = parsed.GetValue(model)!;
            var outputDirectory = parsed.GetValue(output)!;
            var name = parsed.GetValue(expert)!;

            var config = ExpertSurgery.Remove(moeDirectory, name, outputDirectory, parsed.GetValue(topK));

            Console.WriteLine($"Removed '{name}' from {moeDirectory} into {outputDirectory}: {config.NumExperts} experts remain " +
                              $"({string.Join(", ", config.ExpertNames)}), top-{config.NumExpertsPerToken} routing.");
            finetune.RunIfAsked(parsed, outputDirectory, "uniform");
            return CliHost.Success;
        });
        return command;
    }
}
