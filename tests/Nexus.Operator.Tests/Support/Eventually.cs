namespace Nexus.Operator.Tests.Support;

/// <summary>Waits for a condition the code under test reaches on another thread, failing after a timeout instead of
/// sleeping a fixed time.</summary>
public static class Eventually
{
    // Generous: a met condition returns at once, and on a loaded 2-core CI machine a few seconds is not a hang.
    public static readonly TimeSpan DefaultTimeout = TimeSpan.FromSeconds(20);

    public static async Task WaitUntilAsync(Func<bool> condition, string because, TimeSpan? timeout = null)
    {
        var deadline = DateTime.UtcNow + (timeout ?? DefaultTimeout);
        while (!condition())
        {
            if (DateTime.UtcNow > deadline)
            {
                Assert.Fail($"Timed out waiting until {because}.");
            }

            await Task.Delay(2);
        }
    }

    /// <summary>As <see cref="WaitUntilAsync(Func{bool}, string, TimeSpan?)"/>, for a condition that has to ask (the API
    /// server, say).</summary>
    public static async Task WaitUntilAsync(Func<Task<bool>> condition, string because, TimeSpan? timeout = null)
    {
        var deadline = DateTime.UtcNow + (timeout ?? DefaultTimeout);
        while (!await condition())
        {
            if (DateTime.UtcNow > deadline)
            {
                Assert.Fail($"Timed out waiting until {because}.");
            }

            await Task.Delay(10);
        }
    }

    /// <summary>As <see cref="WaitUntilAsync(Func{Task{bool}}, string, TimeSpan?)"/>, the failure message asked for only
    /// on timeout (where the story stood then, not where it started).</summary>
    public static async Task WaitUntilAsync(Func<Task<bool>> condition, Func<Task<string>> because, TimeSpan? timeout = null)
    {
        var deadline = DateTime.UtcNow + (timeout ?? DefaultTimeout);
        while (!await condition())
        {
            if (DateTime.UtcNow > deadline)
            {
                Assert.Fail($"Timed out waiting until {await because()}.");
            }

            await Task.Delay(10);
        }
    }

    /// <summary>Gives other threads a moment to do something they should not; for asserting that nothing happens.</summary>
    public static Task QuietPeriod() => Task.Delay(50);
}
