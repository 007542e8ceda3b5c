using System.Text;

namespace Nexus.Bench.Tests;

/// <summary>
/// A tiny multi-domain corpus whose domains a byte-level model tells apart at once: each has its own characters and
/// a structure an expert can learn in a few dozen steps (words from a fixed lexicon, counting runs, fixed phrases,
/// genes from a fixed list, and code for the extension). Deterministic for a seed; one folder of text files per domain.
/// </summary>
public static class SyntheticDomains
{
    public static readonly string[] Initial = ["prose", "numbers", "shout", "genome"];
    public const string Extension = "code";
    public const string Removed = "genome";

    public static void Write(string directory, int seed = 7, int files = 4, int charactersPerFile = 6000)
    {
        var random = new Random(seed);
        string[] syllables = ["ba", "ko", "mi", "ru", "te", "sa", "lo", "ne", "di", "fu"];
        var lexicon = Enumerable.Range(0, 40).Select(_ => string.Concat(Enumerable.Range(0, random.Next(1, 4)).Select(_ => syllables[random.Next(syllables.Length)]))).ToArray();
        string[] phrases = ["BOLD_RUN_HIKE", "WEST_ZERO_JUMP", "SKY_MUD_FIRE", "LOW_HURRY_VOW", "PUSH_QUIZ_MIX", "WORK_BOLD_SKY", "FIRE_WEST_LOW", "JUMP_MIX_HURRY"];
        var genes = Enumerable.Range(0, 10).Select(_ => "|" + new string(Enumerable.Range(0, 12).Select(_ => "ACGT"[random.Next(4)]).ToArray())).ToArray();

        var generators = new Dictionary<string, Func<string>>
        {
            ["prose"] = () => string.Join(' ', Enumerable.Range(0, random.Next(4, 10)).Select(_ => lexicon[random.Next(lexicon.Length)])) + ". ",
            ["numbers"] = () => { var start = random.Next(0, 91); return string.Join(',', Enumerable.Range(start, 6)) + "\n"; },
            ["shout"] = () => phrases[random.Next(phrases.Length)] + "!\n",
            ["genome"] = () => genes[random.Next(genes.Length)],
            ["code"] = () =>
            {
                var variable = "xyzabc"[random.Next(6)];
                return random.Next(2) == 0
                    ? $"let {variable}{random.Next(10)} = f({"xyz"[random.Next(3)]}) + {random.Next(10)};\n"
                    : $"if ({variable} < {random.Next(10)}) {{ return {variable}; }}\n";
            },
        };
        foreach (var (domain, next) in generators)
        {
            var folder = Path.Combine(directory, domain);
            Directory.CreateDirectory(folder);
            for (var file = 0; file < files; file++)
            {
                var text = new StringBuilder();
                while (text.Length < charactersPerFile) text.Append(next());
                File.WriteAllText(Path.Combine(folder, $"{file}.txt"), text.ToString());
            }
        }
    }
}
