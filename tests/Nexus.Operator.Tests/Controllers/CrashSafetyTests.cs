using System.Diagnostics;
using Xunit.Abstractions;

namespace Nexus.Operator.Tests.Controllers;

/// <summary>
/// Crash safety: the operator is stopped after every write of the story, in turn, and a fresh one started; the story
/// still completes, with no duplicate Jobs and statuses that tell the truth.
/// </summary>
public sealed class CrashSafetyTests(ITestOutputHelper output) : LifecycleStoryTest
{
    private const int MaxIncarnations = 100;

    private List<string> Writes { get; } = [];

    /// <summary>
    /// Each incarnation of the operator may make exactly one write: the server freezes its client right after its first
    /// successful write (everything it sends after that is refused, so nothing more it does lands), then it is stopped
    /// and a fresh one, with empty caches, takes over. Incarnation k thus makes the story's k-th write and crashes
    /// right after it, so every write of the story is a crash point in turn.
    /// </summary>
    [Fact]
    public async Task TheStoryCompletes_WhenTheOperatorCrashesAfterEveryWrite()
    {
        await StartClusterAsync();
        var clock = Stopwatch.StartNew();
        var incarnations = 0;
        foreach (var act in Acts)
        {
            await act.Begin();
            var first = incarnations + 1;
            while (!act.IsDone())
            {
                // The story takes about 20; an operator that writes something on every start never lets it progress.
                if (incarnations == MaxIncarnations)
                {
                    Assert.Fail($"Act '{act.Name}' did not end within {MaxIncarnations} incarnations; the last wrote: {string.Join("; ", Writes.TakeLast(8))}. {Situation()}");
                }

                incarnations++;
                var agent = $"nexus-operator/incarnation-{incarnations}";
                var freeze = Server.Faults.FreezeAfterWrites(agent, writes: 1);
                var running = StartNexusOperator(agent);
                try
                {
                    await Server.WaitForAsync(() => freeze.IsFrozen || act.IsDone(), TimeSpan.FromSeconds(20));
                }
                catch (TimeoutException)
                {
                    Assert.Fail($"Act '{act.Name}': incarnation {incarnations} made no write and the act did not end. {Situation()}");
                }

                await running.StopAsync();
                var writes = Server.Requests.All.Where(record => record.UserAgent == agent && record.IsWrite && record is { Injected: false, StatusCode: >= 200 and < 300 }).ToList();
                Assert.True(writes.Count <= 1, $"incarnation {incarnations} made {writes.Count} writes: {string.Join(", ", writes)}");
                Writes.Add($"incarnation {incarnations,3}: {(writes.Count == 1 ? Describe(writes[0]) : "no write")}");
                output.WriteLine(Writes[^1]);
            }

            output.WriteLine($"act '{act.Name}' ended after incarnations {first}..{incarnations}");
        }

        output.WriteLine($"The story took {incarnations} operator incarnations, one write each, in {clock.Elapsed.TotalSeconds:F1} s.");
        Assert.True(incarnations >= StoryJobs.Length, $"only {incarnations} incarnations: the crash schedule did not run");
        AssertEachStepRanOnce();
        await AssertTheStatusesTellTheTruthAsync();
    }

    private static string Describe(Nexus.ApiServer.Instrumentation.RequestRecord write) =>
        $"{write.Verb} {write.Resource}{(write.Subresource is null ? "" : "/" + write.Subresource)} {write.Name} → {write.StatusCode}";
}
