using System.CommandLine;
using Nexus.Model;
using Nexus.Training;

namespace Nexus.Cli.Commands;

/// <summary><c>nexus upcycle</c>: seed + N dense experts → a Nexus (or linear-router) MoE checkpoint, streamed tensor by tensor.</summary>
public static class UpcycleCommand
{
    public static Command Create()
    {
        var seedModel = new Option<string>("--seed-model") { Description = "The seed model folder: its FFN becomes every layer's shared expert.", Required = true };
        var experts = new Option<string[]>("--expert") { Description = "A dense expert as NAME=MODEL_DIR (repeat, in router order).", Required = true };
        var embeddings = new Option<string[]>("--embedding") { Description = "Domain-embedding files from `nexus embed`, one per expert, matched by their name (nexus router)." };
        var router = new Option<string>("--router") { Description = "Router: nexus (projects domain embeddings) or linear (the BTX-style baseline).", DefaultValueFactory = _ => "nexus" };
        var topK = new Option<int>("--top-k") { Description = "Routed experts per token.", DefaultValueFactory = _ => 1 };
        var aux = new Option<double>("--aux-loss-coef") { Description = "Weight α of the Switch load-balancing loss.", DefaultValueFactory = _ => 0.05 };
        var projection = new Option<int?>("--projection-size") { Description = "Width of the Nexus router's SwiGLU projection (default: the hidden size)." };
        var seed = new Option<long>("--seed") { Description = "Seed of the router's initial weights.", DefaultValueFactory = _ => 0 };
        var output = new Option<string>("--out") { Description = "The MoE model folder to write (atomically).", Required = true };

        var command = new Command("upcycle", "Merge a seed and N dense experts into a Nexus MoE: seed FFN → shared expert, expert FFNs → routed experts, the rest averaged.")
        {
            seedModel, experts, embeddings, router, topK, aux, projection, seed, output,
        };
        command.SetAction(parsed =>
        {
            var kind = ParseRouter(parsed.GetValue(router)!);
            var named = DomainOptionSet.ParseNamedPaths(parsed.GetValue(experts)!, "--expert");
            var many = named.FirstOrDefault(n => n.Paths.Count > 1);
            if (many.Name is not null) throw new ArgumentException($"--expert '{many.Name}' is given {many.Paths.Count} times; each expert has one model folder.");
            var vectors = LoadEmbeddings(parsed.GetValue(embeddings) ?? [], named.Select(n => n.Name).ToList());
            if (kind == RouterKind.Linear && vectors.Count > 0)
                Console.Error.WriteLine("nexus: note: the linear router does not use domain embeddings; --embedding is ignored.");
            var sources = named.Select(n => new UpcycleExpert(n.Name, n.Paths[0], vectors.GetValueOrDefault(n.Name)?.Vector)).ToList();

            var target = parsed.GetValue(output)!;
            var config = Upcycler.Run(parsed.GetValue(seedModel)!, sources, kind, target, parsed.GetValue(seed), parsed.GetValue(topK),
                parsed.GetValue(aux), parsed.GetValue(projection));
            Console.WriteLine($"Upcycled {config.NumExperts} experts ({string.Join(", ", config.ExpertNames)}) with a {config.RouterType} router, " +
                              $"top-{config.NumExpertsPerToken}: {config.ParameterCount():N0} parameters, written to {target}");
            return CliHost.Success;
        });
        return command;
    }

    public static RouterKind ParseRouter(string text) => text.ToLowerInvariant() switch
    {
        "nexus" => RouterKind.Nexus,
        "linear" => RouterKind.Linear,
        _ => throw new ArgumentException($"--router '{text}' is not a router; use nexus or linear."),
    };

    /// <summary>Domain-embedding files keyed by their name; each must name one of the experts, once.</summary>
    public static IReadOnlyDictionary<string, DomainEmbedding> LoadEmbeddings(IEnumerable<string> files, IReadOnlyList<string> experts)
    {
        var byName = new Dictionary<string, DomainEmbedding>();
        foreach (var file in files)
        {
            var embedding = DomainEmbedding.Load(file);
            if (!experts.Contains(embedding.Name))
                throw new ArgumentException($"--embedding {file} is for '{embedding.Name}', which is not an expert here ({string.Join(", ", experts)}).");
            if (!byName.TryAdd(embedding.Name, embedding))
                throw new ArgumentException($"--embedding: two files are for '{embedding.Name}'.");
        }
        return byName;
    }
}
