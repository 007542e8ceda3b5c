using System.Text;
using Nexus.Model.Tokenization;

namespace Nexus.Serving.Engine;

/// <summary>
/// One completion's text as its tokens arrive: decodes them (never half a character), holds back a tail that may
/// begin a stop string, and ends at the first stop string, which is never released. Same rules as
/// <c>TextGenerator.Generate</c>, so the engine's text equals <c>nexus generate</c>'s.
/// </summary>
internal sealed class CompletionText(ITextTokenizer tokenizer, IReadOnlyList<string> stops)
{
    private readonly StreamingDecoder decoder = new(tokenizer);
    private readonly StringBuilder text = new();
    private int released;

    /// <summary>Whether a stop string has ended the text.</summary>
    public bool Stopped { get; private set; }

    /// <summary>Adds a token; returns the text that became final ("" for none). After a stop string, call no more.</summary>
    public string Append(int token)
    {
        text.Append(decoder.Append(token));
        var pending = text.ToString(released, text.Length - released);   // a stop string can only start here
        var stopAt = FirstStop(pending);
        if (stopAt >= 0)
        {
            Stopped = true;
            released += stopAt;
            return pending[..stopAt];
        }
        var safe = pending.Length - PossibleStopPrefix(pending);
        released += safe;
        return pending[..safe];
    }

    /// <summary>Ends the text without a stop string: releases what was held back.</summary>
    public string Finish()
    {
        text.Append(decoder.Flush());
        var rest = text.ToString(released, text.Length - released);
        released = text.Length;
        return rest;
    }

    private int FirstStop(string pending)
    {
        var first = -1;
        foreach (var stop in stops)
        {
            var at = pending.IndexOf(stop, StringComparison.Ordinal);
            if (at >= 0 && (first < 0 || at < first)) first = at;
        }
        return first;
    }

    /// <summary>Length of the longest tail of <paramref name="pending"/> that begins some stop string.</summary>
    private int PossibleStopPrefix(string pending)
    {
        var longest = 0;
        foreach (var stop in stops)
        {
            for (var length = Math.Min(stop.Length - 1, pending.Length); length > longest; length--)
            {
                if (pending.AsSpan(pending.Length - length).SequenceEqual(stop.AsSpan(0, length)))
                {
                    longest = length;
                    break;
                }
            }
        }
        return longest;
    }
}
