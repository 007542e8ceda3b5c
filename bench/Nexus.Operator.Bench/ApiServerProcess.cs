using System.Diagnostics;
using System.Globalization;
using System.Reflection;
using System.Text.Json;

namespace Nexus.Operator.Bench;

/// <summary>
/// The <c>apiserver</c> child seen from <c>scale</c>: starts it, talks to it over its control channel with a time limit
/// on every answer, and makes sure it never outlives this process: it is killed on dispose, on a failed start, and on
/// this process's exit; and it exits by itself when its stdin closes, which covers this process being killed.
/// </summary>
internal sealed class ApiServerProcess : IAsyncDisposable
{
    private static readonly TimeSpan QuickAnswer = TimeSpan.FromSeconds(30);

    private readonly Process _process;
    private readonly SemaphoreSlim _oneCommandAtATime = new(1, 1);
    private readonly EventHandler _killOnExit;

    private ApiServerProcess(Process process, Uri baseUri)
    {
        _process = process;
        BaseUri = baseUri;
        _killOnExit = (_, _) => Kill();
        AppDomain.CurrentDomain.ProcessExit += _killOnExit;
    }

    public Uri BaseUri { get; }

    /// <summary>CPU time the child has used so far (user and system).</summary>
    public TimeSpan CpuTime
    {
        get
        {
            _process.Refresh();
            return _process.TotalProcessorTime;
        }
    }

    public static async Task<ApiServerProcess> StartAsync(ScaleOptions options, CancellationToken cancellationToken)
    {
        var start = new ProcessStartInfo
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        start.FileName = Environment.ProcessPath ?? throw new InvalidOperationException("The benchmark cannot find its own executable.");
        if (Path.GetFileNameWithoutExtension(start.FileName) == "dotnet")
        {
            // Started as `dotnet Nexus.Operator.Bench.dll`: the child needs the dll too.
            start.ArgumentList.Add(Assembly.GetEntryAssembly()!.Location);
        }

        string[] arguments =
        [
            "apiserver", "--crds", options.CrdDirectory, "--expert", options.ExpertManifest,
            // Every Expert makes about seven watch events (create, finalizer, two status writes, its Job's and two
            // Events'); keep them all, so a watch that falls behind is never told its resourceVersion expired.
            "--event-history", Math.Max(10_000, 10 * (options.Experts + options.Warmup)).ToString(CultureInfo.InvariantCulture),
        ];
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        if (options.ApiServerGarbageCollector)
        {
            start.ArgumentList.Add("--garbage-collector");
        }

        var process = Process.Start(start) ?? throw new InvalidOperationException("The apiserver child process did not start.");
        process.ErrorDataReceived += (_, line) =>
        {
            if (line.Data is not null)
            {
                Console.Error.WriteLine($"[apiserver] {line.Data}");
            }
        };
        process.BeginErrorReadLine();
        try
        {
            var url = await ReadLineAsync(process, QuickAnswer, "its URL", cancellationToken);
            return new ApiServerProcess(process, new Uri(url));
        }
        catch
        {
            KillAndDispose(process);
            throw;
        }
    }

    public Task CreateNamespaceAsync(string name, CancellationToken cancellationToken) =>
        SendAsync($"{ControlProtocol.CreateNamespace} {name}", QuickAnswer, cancellationToken);

    /// <summary>Creates Experts in the child; its own limit is <see cref="LoadRequest.TimeoutSeconds"/>, and the answer
    /// may take a little longer than that to arrive.</summary>
    public async Task<LoadResult> LoadAsync(LoadRequest request, CancellationToken cancellationToken)
    {
        var answer = await SendAsync(
            $"{ControlProtocol.Load} {JsonSerializer.Serialize(request, ControlProtocol.Json)}",
            TimeSpan.FromSeconds(request.TimeoutSeconds) + QuickAnswer,
            cancellationToken);
        return JsonSerializer.Deserialize<LoadResult>(answer, ControlProtocol.Json)!;
    }

    public async Task<long> MarkAsync(CancellationToken cancellationToken)
    {
        var answer = await SendAsync(ControlProtocol.Mark, QuickAnswer, cancellationToken);
        return JsonDocument.Parse(answer).RootElement.GetProperty("mark").GetInt64();
    }

    public async Task<RequestSnapshot> RequestsSinceAsync(long mark, CancellationToken cancellationToken)
    {
        var answer = await SendAsync($"{ControlProtocol.Requests} {mark.ToString(CultureInfo.InvariantCulture)}", QuickAnswer, cancellationToken);
        return JsonSerializer.Deserialize<RequestSnapshot>(answer, ControlProtocol.Json)!;
    }

    public async ValueTask DisposeAsync()
    {
        AppDomain.CurrentDomain.ProcessExit -= _killOnExit;
        try
        {
            if (!_process.HasExited)
            {
                // Closing stdin also cancels a command still running there (a load this process stopped waiting for).
                await _process.StandardInput.WriteLineAsync(ControlProtocol.Quit);
                _process.StandardInput.Close();
                await _process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(10));
            }
        }
        catch (Exception failure) when (failure is IOException or TimeoutException or InvalidOperationException)
        {
            // It did not go quietly: it is killed below.
        }

        KillAndDispose(_process);
        _oneCommandAtATime.Dispose();
    }

    private async Task<string> SendAsync(string command, TimeSpan timeout, CancellationToken cancellationToken)
    {
        await _oneCommandAtATime.WaitAsync(cancellationToken);
        try
        {
            if (_process.HasExited)
            {
                throw new InvalidOperationException($"The apiserver child exited (code {_process.ExitCode}); see its stderr above.");
            }

            await _process.StandardInput.WriteLineAsync(command.AsMemory(), cancellationToken);
            await _process.StandardInput.FlushAsync(cancellationToken);
            var name = command.Split(' ', 2)[0];
            var answer = await ReadLineAsync(_process, timeout, $"its answer to '{name}'", cancellationToken);
            return answer.StartsWith(ControlProtocol.Ok + " ", StringComparison.Ordinal)
                ? answer[(ControlProtocol.Ok.Length + 1)..]
                : throw new InvalidOperationException($"The apiserver child refused '{name}': {answer}");
        }
        finally
        {
            _oneCommandAtATime.Release();
        }
    }

    private static async Task<string> ReadLineAsync(Process process, TimeSpan timeout, string what, CancellationToken cancellationToken)
    {
        string? line;
        try
        {
            line = await process.StandardOutput.ReadLineAsync(cancellationToken).AsTask().WaitAsync(timeout, cancellationToken);
        }
        catch (TimeoutException)
        {
            // A read that never returns would leave the channel out of step: the child goes, and the run fails.
            KillAndDispose(process, dispose: false);
            throw new TimeoutException($"The apiserver child did not send {what} within {timeout.TotalSeconds:0} s; it was killed.");
        }

        return line ?? throw new InvalidOperationException($"The apiserver child closed its output instead of sending {what}; see its stderr above.");
    }

    private void Kill() => KillAndDispose(_process, dispose: false);

    private static void KillAndDispose(Process process, bool dispose = true)
    {
        try
        {
            if (!process.HasExited)
            {
                process.Kill(entireProcessTree: true);
                process.WaitForExit(5_000);
            }
        }
        catch (InvalidOperationException)
        {
            // It has already gone.
        }

        if (dispose)
        {
            process.Dispose();
        }
    }
}
