using k8s.LeaderElection;
using Microsoft.Extensions.Logging;
using Nexus.Operator.Metrics;

namespace Nexus.Operator.Hosting;

/// <summary>
/// Runs the controllers only while this replica holds the Lease: a term starts on <c>OnStartedLeading</c> and its
/// token is cancelled the moment <c>OnStoppedLeading</c> fires, which cancels every reconcile in flight. A replica that
/// loses the Lease keeps campaigning and starts a fresh term when it wins again.
/// </summary>
internal sealed class Leadership
{
    private readonly LeaderElectionOptions _options;
    private readonly Func<ILock> _lockFactory;
    private readonly Func<CancellationToken, Task> _lead;
    private readonly OperatorMetrics _metrics;
    private readonly ILogger _logger;
    private volatile bool _isLeader;

    public Leadership(LeaderElectionOptions options, Func<ILock> lockFactory, Func<CancellationToken, Task> lead, OperatorMetrics metrics, ILogger logger)
    {
        _options = options;
        _lockFactory = lockFactory;
        _lead = lead;
        _metrics = metrics;
        _logger = logger;
    }

    public bool IsLeader => _isLeader;

    public async Task RunAsync(CancellationToken stoppingToken)
    {
        if (!_options.Enabled)
        {
            SetLeader(true);
            try
            {
                await _lead(stoppingToken).ConfigureAwait(false);
            }
            finally
            {
                SetLeader(false);
            }

            return;
        }

        var leaseLock = _lockFactory();
        using var elector = new LeaderElector(new LeaderElectionConfig(leaseLock)
        {
            LeaseDuration = _options.LeaseDuration,
            RenewDeadline = _options.RenewDeadline,
            RetryPeriod = _options.RetryPeriod,
        });

        var termLock = new Lock();
        CancellationTokenSource? term = null;
        var leading = Task.CompletedTask;
        elector.OnStartedLeading += () =>
        {
            lock (termLock)
            {
                term = new CancellationTokenSource();
                var token = term.Token;
                var previous = leading;
                // A new term starts only after the previous one's workers have stopped, so no key is ever
                // reconciled by two terms at once.
                leading = Task.Run(async () =>
                {
                    await previous.ConfigureAwait(false);
                    await _lead(token).ConfigureAwait(false);
                });
                SetLeader(true);
            }

            _logger.LogInformation("Leader election: {Identity} started leading ({Lease})", _options.Identity, leaseLock.Describe());
        };
        elector.OnStoppedLeading += () =>
        {
            lock (termLock)
            {
                SetLeader(false);
                term?.Cancel();
            }

            _logger.LogWarning("Leader election: {Identity} stopped leading; reconciling stopped", _options.Identity);
        };
        elector.OnNewLeader += leader => _logger.LogInformation("Leader election: {Leader} is the leader", leader);
        elector.OnError += error => _logger.LogWarning(error, "Leader election: error reading or renewing the Lease");

        var leadingAtShutdown = false;
        using (stoppingToken.Register(() => leadingAtShutdown = _isLeader))
        {
            try
            {
                await elector.RunAndTryToHoldLeadershipForeverAsync(stoppingToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
            }
        }

        Task lastTerm;
        lock (termLock)
        {
            SetLeader(false);
            term?.Cancel();
            lastTerm = leading;
        }

        await lastTerm.ConfigureAwait(false);
        if (leadingAtShutdown && _options.ReleaseOnShutdown)
        {
            await ReleaseAsync(leaseLock).ConfigureAwait(false);
        }
    }

    /// <summary>Empties the Lease's holder (client-go's ReleaseOnCancel) so a standby acquires it at its next retry
    /// rather than after the full lease duration. Only if we still hold it: the update carries the resourceVersion we
    /// just read, so a Lease taken over meanwhile is left alone.</summary>
    private async Task ReleaseAsync(ILock leaseLock)
    {
        using var timeout = new CancellationTokenSource(_options.RenewDeadline);
        try
        {
            var record = await leaseLock.GetAsync(timeout.Token).ConfigureAwait(false);
            if (record?.HolderIdentity != _options.Identity)
            {
                return;
            }

            var now = DateTime.UtcNow;
            var released = await leaseLock.UpdateAsync(
                new LeaderElectionRecord
                {
                    HolderIdentity = "",
                    LeaseDurationSeconds = 1,
                    AcquireTime = now,
                    RenewTime = now,
                    LeaderTransitions = record.LeaderTransitions,
                },
                timeout.Token).ConfigureAwait(false);
            _logger.LogInformation(released
                ? "Leader election: released the Lease for a standby to take over"
                : "Leader election: could not release the Lease; a standby takes over when it expires");
        }
        catch (Exception failure)
        {
            _logger.LogWarning(failure, "Leader election: could not release the Lease; a standby takes over when it expires");
        }
    }

    private void SetLeader(bool isLeader)
    {
        _isLeader = isLeader;
        _metrics.Leader.Set(isLeader ? 1 : 0);
    }
}
