using System.CommandLine;
using Nexus.Model;
using Nexus.Training;

namespace Nexus.Cli.Commands;

/// <summary><c>nexus embed</c>: a domain's embedding d, from the seed model over a sample of the domain's data, or from a user's vector.</summary>
public static class EmbedCommand
{
    public static Command Create()
    {
        var name = new Option<string>("--name") { Description = "The domain (and its expert's) name.", Required = true };
        var model = new Option<string?>("--model") { Description = "The seed model folder whose mean final hidden state embeds the domain." };
        var data = new Option<string[]>("--data") { Description = "The domain's text files or folders (the expert's training data).", AllowMultipleArgumentsPerToken = true };
        var vector = new Option<string?>("--vector") { Description = "Use this precomputed vector instead: a text file of numbers (whitespace, comma or newline separated) or a JSON array." };
        var sample = new Option<long>("--sample-tokens") { Description = "Tokens to average over, spread evenly over the data.", DefaultValueFactory = _ => 65_536 };
        var seqLen = new Option<int>("--seq-len") { Description = "Tokens per window.", DefaultValueFactory = _ => 128 };
        var batch = new Option<int>("--batch-size") { Description = "Windows per forward pass.", DefaultValueFactory = _ => 16 };
        var valFraction = new Option<double>("--val-fraction") { Description = "Held-out tail of each file, excluded from the sample (match the expert's training).", DefaultValueFactory = _ => 0.1 };
        var threads = new Option<int>("--threads") { Description = "CPU threads for libtorch; 0: one per core.", DefaultValueFactory = _ => 0 };
        var output = new Option<string>("--out") { Description = "Where to write the domain-embedding JSON file.", Required = true };

        var command = new Command("embed", "Compute a domain embedding (mean final hidden state of the seed model over the domain's data), or import a vector.")
        {
            name, model, data, vector, sample, seqLen, batch, valFraction, threads, output,
        };
        command.SetAction(parsed =>
        {
            var domain = parsed.GetValue(name)!;
            var target = parsed.GetValue(output)!;
            DomainEmbedding embedding;
            if (parsed.GetValue(vector) is { } vectorFile)
            {
                if (parsed.GetValue(model) is not null || (parsed.GetValue(data) ?? []).Length > 0)
                    throw new ArgumentException("--vector imports a precomputed embedding; leave out --model and --data.");
                embedding = new DomainEmbedding { Name = domain, Source = Path.GetFullPath(vectorFile), Vector = ReadVector(vectorFile) };
            }
            else
            {
                var seed = parsed.GetValue(model) ?? throw new ArgumentException("--model is required (the seed model), unless --vector gives the embedding.");
                var files = parsed.GetValue(data) ?? [];
                if (files.Length == 0) throw new ArgumentException("--data is required: the domain's text files or folders.");
                CliHost.ConfigureThreads(parsed.GetValue(threads));
                var (seedModel, tokenizer) = ModelCheckpoint.Load(seed);
                using var _ = seedModel;
                var corpus = TokenCorpus.FromFiles(files, tokenizer, parsed.GetValue(valFraction));
                embedding = DomainEmbedder.Compute(seedModel, domain, corpus.Train, parsed.GetValue(sample), parsed.GetValue(seqLen),
                    parsed.GetValue(batch), Path.GetFullPath(seed));
            }
            embedding.Save(target);
            Console.WriteLine($"Domain embedding '{domain}': {embedding.Vector.Length} values" +
                              (embedding.Tokens > 0 ? $" averaged over {embedding.Tokens:N0} tokens" : "") + $", written to {target}");
            return CliHost.Success;
        });
        return command;
    }

    private static float[] ReadVector(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"--vector file '{path}' does not exist.", path);
        var text = File.ReadAllText(path).Trim();
        if (text.StartsWith('[')) text = text.TrimStart('[').TrimEnd(']');
        var parts = text.Split([' ', '\t', '\r', '\n', ','], StringSplitOptions.RemoveEmptyEntries);
        var values = new float[parts.Length];
        for (var i = 0; i < parts.Length; i++)
            if (!float.TryParse(parts[i], System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out values[i])
                || !float.IsFinite(values[i]))
                throw new InvalidDataException($"{path}: entry {i} ('{parts[i]}') is not a finite number.");
        if (values.Length == 0) throw new InvalidDataException($"{path} holds no numbers.");
        return values;
    }
}
