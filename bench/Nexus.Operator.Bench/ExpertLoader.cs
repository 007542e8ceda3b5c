using System.Diagnostics;
using System.Globalization;
using System.Text.Json.Nodes;
using k8s;
using Nexus.Api.V1Alpha1;

namespace Nexus.Operator.Bench;

/// <summary>Creates Experts at once, as a user applying a folder of manifests would, and optionally waits until the
/// operator has reconciled every one of them.</summary>
internal sealed class ExpertLoader(IKubernetes loaderClient, IKubernetes observerClient, JsonObject template)
{
    public async Task<LoadResult> RunAsync(LoadRequest request, CancellationToken cancellationToken)
    {
        var width = Math.Max(4, request.Count.ToString(CultureInfo.InvariantCulture).Length);
        var names = Enumerable.Range(1, request.Count)
            .Select(index => request.Prefix + index.ToString(CultureInfo.InvariantCulture).PadLeft(width, '0'))
            .ToList();

        // The observer lists before the first create and watches from that list's resourceVersion, so it misses
        // nothing however long its watches take to open.
        await using var observer = request.Observe
            ? await ReconcileObserver.StartAsync(observerClient, request.Namespace, names, cancellationToken)
            : null;

        var cpuBefore = Environment.CpuUsage.TotalTime;
        var started = Stopwatch.GetTimestamp();
        var created = 0;
        try
        {
            await Parallel.ForEachAsync(
                names,
                new ParallelOptions { MaxDegreeOfParallelism = request.Concurrency, CancellationToken = cancellationToken },
                async (name, token) =>
                {
                    await loaderClient.CustomObjects.CreateNamespacedCustomObjectAsync(
                        ExpertNamed(name), Expert.KubeGroup, Expert.KubeApiVersion, request.Namespace, Expert.KubePluralName,
                        cancellationToken: token);
                    Interlocked.Increment(ref created);
                });
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            throw new TimeoutException($"Timed out after {request.TimeoutSeconds:0.###} s creating Experts: {created} of {request.Count} created.");
        }

        var createSeconds = Stopwatch.GetElapsedTime(started).TotalSeconds;

        double? reconciledSeconds = null;
        if (observer is not null)
        {
            try
            {
                var reconciledAt = await observer.AllReconciled.WaitAsync(cancellationToken);
                reconciledSeconds = Stopwatch.GetElapsedTime(started, reconciledAt).TotalSeconds;
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                throw new TimeoutException(
                    $"Timed out after {request.TimeoutSeconds:0.###} s waiting for {request.Count} Experts to be reconciled: {observer.DescribeWaiting()}");
            }
        }

        return new LoadResult(created, createSeconds, reconciledSeconds, (Environment.CpuUsage.TotalTime - cpuBefore).TotalSeconds);
    }

    private JsonObject ExpertNamed(string name)
    {
        var expert = (JsonObject)template.DeepClone();
        var metadata = (JsonObject)expert["metadata"]!;
        metadata["name"] = name;
        metadata.Remove("namespace");
        return expert;
    }
}
