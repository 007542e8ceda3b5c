namespace Nexus.Bench;

public sealed record BenchArguments(string Command, IReadOnlyDictionary<string, string> Options)
{
    public static BenchArguments Parse(string[] args)
    {
        if (args.Length == 0) throw new ArgumentException("Name a benchmark: train.");
        var options = new Dictionary<string, string>();
        for (var i = 1; i < args.Length; i++)
        {
            if (!args[i].StartsWith("--")) throw new ArgumentException($"Unexpected argument '{args[i]}'.");
            var hasValue = i + 1 < args.Length && !args[i + 1].StartsWith("--");
            options[args[i][2..]] = hasValue ? args[++i] : "true";
        }
        return new BenchArguments(args[0], options);
    }

    public string Get(string name, string fallback) => Options.TryGetValue(name, out var value) ? value : fallback;
    public int GetInt(string name, int fallback) => int.Parse(Get(name, fallback.ToString()));
    public bool Flag(string name) => Options.ContainsKey(name);
}
