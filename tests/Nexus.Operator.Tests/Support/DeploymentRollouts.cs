using Nexus.ApiServer.Controllers;
using Server = Nexus.ApiServer.LocalApiServer;

namespace Nexus.Operator.Tests.Support;

/// <summary>
/// The Deployment controller completing every rollout as soon as it starts: once started, whenever a Deployment's status
/// lags its spec (no status yet, or status.observedGeneration behind metadata.generation),
/// <see cref="DeploymentSimulator.MakeReady"/> rolls it out. For tests where serving is part of the story but not what
/// is under test; like <see cref="FakeStepRunner"/>, it works in-process and never shows in the request log.
/// </summary>
public sealed class DeploymentRollouts(Server server, string ns) : IAsyncDisposable
{
    private readonly CancellationTokenSource _stopping = new();
    private readonly List<string> _rolledOut = [];
    private Task? _watching;

    /// <summary>The Deployments rolled out, in order (a name once per rollout).</summary>
    public IReadOnlyList<string> RolledOut
    {
        get
        {
            lock (_rolledOut)
            {
                return [.. _rolledOut];
            }
        }
    }

    public Task StartAsync()
    {
        _watching ??= Task.Run(() => WatchAsync(_stopping.Token));
        return Task.CompletedTask;
    }

    public async ValueTask DisposeAsync()
    {
        await _stopping.CancelAsync();
        if (_watching is not null)
        {
            await _watching;
        }

        _stopping.Dispose();
    }

    private async Task WatchAsync(CancellationToken cancellationToken)
    {
        try
        {
            while (true)
            {
                string? lagging = null;
                await server.WaitForAsync(() => (lagging = Lagging()) is not null, Timeout.InfiniteTimeSpan, cancellationToken);
                try
                {
                    server.Deployments.MakeReady(ns, lagging!);
                }
                catch (InvalidOperationException)
                {
                    // Deleted meanwhile.
                    continue;
                }

                lock (_rolledOut)
                {
                    _rolledOut.Add(lagging!);
                }
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // Disposed.
        }
    }

    private string? Lagging() => server.List("apps/v1", "deployments", ns)
        .Where(deployment => deployment["metadata"]?["deletionTimestamp"] is null
                             && deployment["status"]?["observedGeneration"]?.GetValue<long>() != deployment["metadata"]?["generation"]?.GetValue<long>())
        .Select(deployment => deployment["metadata"]?["name"]?.GetValue<string>())
        .FirstOrDefault();
}
