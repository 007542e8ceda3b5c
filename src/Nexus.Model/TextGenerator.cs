using Nexus.Model.Tokenization;
using static TorchSharp.torch;

namespace Nexus.Model;

/// <summary>How to pick each next token. Temperature 0 is greedy decoding.</summary>
public sealed record SamplingOptions
{
    /// <summary>Tokens to generate at most.</summary>
    public int MaxNewTokens { get; init; } = 128;
    public double Temperature { get; init; } = 0.8;
    /// <summary>Nucleus sampling: keep the smallest set of tokens whose probability reaches this mass.</summary>
    public double TopP { get; init; } = 1.0;
    public long Seed { get; init; }
    /// <summary>Generation ends when the text ends with one of these (which is not returned).</summary>
    public IReadOnlyList<string> Stop { get; init; } = [];

    public void Validate()
    {
        if (MaxNewTokens < 0) throw new ArgumentException($"max tokens must not be negative (got {MaxNewTokens}).");
        if (!(Temperature >= 0) || double.IsInfinity(Temperature)) throw new ArgumentException($"temperature must be a finite number ≥ 0 (got {Temperature}).");
        if (!(TopP > 0 && TopP <= 1)) throw new ArgumentException($"top-p must be in (0, 1] (got {TopP}).");
    }
}

/// <summary>Autoregressive decoding with a KV cache: the prompt is prefilled once, then one token per step.</summary>
public sealed class TextGenerator(CausalLanguageModel model, ITextTokenizer tokenizer)
{
    /// <summary>
    /// Continues <paramref name="prompt"/> and returns the new text. <paramref name="onText"/> receives it as it
    /// is decoded: never half a character, and never text that might turn out to start a stop sequence.
    /// </summary>
    public string Generate(string prompt, SamplingOptions options, Action<string>? onText = null)
    {
        var promptIds = tokenizer.Encode(prompt, addBos: tokenizer.BosId is not null);
        var decoder = new StreamingDecoder(tokenizer);
        var text = new System.Text.StringBuilder();
        var emitted = 0;
        foreach (var id in GenerateIds(promptIds, options))
        {
            text.Append(decoder.Append(id));
            var current = text.ToString();
            var stopAt = FirstStop(current, options.Stop);
            if (stopAt >= 0)
            {
                if (stopAt > emitted) onText?.Invoke(current[emitted..stopAt]);
                return current[..stopAt];
            }
            var safe = current.Length - PossibleStopPrefix(current, options.Stop);
            if (safe > emitted)
            {
                onText?.Invoke(current[emitted..safe]);
                emitted = safe;
            }
        }
        text.Append(decoder.Flush());
        var final = text.ToString();
        if (final.Length > emitted) onText?.Invoke(final[emitted..]);
        return final;
    }

    private static int FirstStop(string text, IReadOnlyList<string> stops)
    {
        var first = -1;
        foreach (var stop in stops)
        {
            var at = stop.Length == 0 ? -1 : text.IndexOf(stop, StringComparison.Ordinal);
            if (at >= 0 && (first < 0 || at < first)) first = at;
        }
        return first;
    }

    /// <summary>Length of the longest tail of <paramref name="text"/> that begins some stop sequence.</summary>
    private static int PossibleStopPrefix(string text, IReadOnlyList<string> stops)
    {
        var longest = 0;
        foreach (var stop in stops)
        {
            for (var length = Math.Min(stop.Length - 1, text.Length); length > longest; length--)
            {
                if (text.AsSpan(text.Length - length).SequenceEqual(stop.AsSpan(0, length)))
                {
                    longest = length;
                    break;
                }
            }
        }
        return longest;
    }

    /// <summary>Token ids after the prompt, ending at EOS (not yielded) or after MaxNewTokens.</summary>
    public IEnumerable<int> GenerateIds(IReadOnlyList<int> prompt, SamplingOptions options)
    {
        options.Validate();
        if (prompt.Count == 0) throw new ArgumentException("The prompt is empty; give at least one token.");
        var context = model.Config.MaxPositionEmbeddings;
        if (prompt.Count + options.MaxNewTokens > context)
            throw new ArgumentException(
                $"The prompt ({prompt.Count} tokens) plus max tokens ({options.MaxNewTokens}) exceed the model's context of {context} tokens.");
        if (options.MaxNewTokens == 0) yield break;

        model.eval();
        using var cache = model.NewCache(1, prompt.Count + options.MaxNewTokens);
        using var generator = new Generator((ulong)options.Seed);
        var next = Step(cache, prompt.Select(i => (long)i).ToArray(), options, generator);
        for (var produced = 0; produced < options.MaxNewTokens; produced++)
        {
            if (next == tokenizer.EosId) yield break;
            yield return next;
            if (produced + 1 < options.MaxNewTokens) next = Step(cache, [next], options, generator);
        }
    }

    private int Step(KvCache cache, long[] ids, SamplingOptions options, Generator generator)
    {
        using var noGrad = no_grad();
        using var scope = NewDisposeScope();
        var logits = model.Forward(tensor(ids, [1, ids.Length]), cache);
        return Sampling.Pick(logits[0, -1], options.Temperature, options.TopP, generator);
    }
}

public static class Sampling
{
    /// <summary>Picks a token from logits [vocab]: greedy at temperature 0, else temperature + nucleus sampling.</summary>
    public static int Pick(Tensor logits, double temperature, double topP, Generator generator)
    {
        var scores = logits.to(float32);
        if (temperature == 0) return (int)scores.argmax().item<long>();
        var probabilities = nn.functional.softmax(scores / temperature, 0);
        if (topP < 1)
        {
            var (sorted, order) = probabilities.sort(descending: true);
            var before = sorted.cumsum(0) - sorted;                 // mass of the tokens ranked above each one
            sorted = sorted.masked_fill(before.ge(topP), 0);       // the top token always survives
            var pick = sorted.multinomial(1, generator: generator);
            return (int)order[pick].item<long>();
        }
        return (int)probabilities.multinomial(1, generator: generator).item<long>();
    }
}
