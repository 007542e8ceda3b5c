namespace Nexus.Training;

/// <summary>
/// A one-line progress bar on an interactive terminal (stderr), redrawn at most 10 times a second;
/// silent when stderr is redirected, where the JSON-lines metrics file is the record.
/// </summary>
public sealed class ProgressReporter(long totalSteps, TextWriter? terminal)
{
    private DateTime lastDraw = DateTime.MinValue;

    public static ProgressReporter ForConsole(long totalSteps) =>
        new(totalSteps, Console.IsErrorRedirected ? null : Console.Error);

    public void Report(long step, double loss, double tokensPerSecond, TimeSpan eta, bool force = false)
    {
        if (terminal is null) return;
        var now = DateTime.UtcNow;
        if (!force && (now - lastDraw).TotalMilliseconds < 100) return;
        lastDraw = now;
        terminal.Write("\r" + Format(step, totalSteps, loss, tokensPerSecond, eta));
    }

    public void Finish()
    {
        terminal?.WriteLine();
    }

    public static string Format(long step, long total, double loss, double tokensPerSecond, TimeSpan eta)
    {
        const int width = 24;
        var filled = (int)Math.Round(width * Math.Clamp((double)step / total, 0, 1));
        var bar = new string('█', filled) + new string('░', width - filled);
        return $"{bar} {step}/{total} loss {loss:F3} · {tokensPerSecond:N0} tok/s · ETA {FormatSpan(eta)}   ";
    }

    private static string FormatSpan(TimeSpan span) =>
        span.TotalHours >= 1 ? $"{(int)span.TotalHours}h{span.Minutes:D2}m" : $"{span.Minutes}m{span.Seconds:D2}s";
}
