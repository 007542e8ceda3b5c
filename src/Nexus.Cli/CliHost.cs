using System.CommandLine;
using Nexus.Model;

namespace Nexus.Cli;

/// <summary>
/// Runs a command line and turns every user error into one clear line on stderr. Exit codes:
/// 0 success, 1 unexpected failure, 2 bad arguments or input, 130 cancelled (Ctrl+C / SIGTERM).
/// </summary>
public static class CliHost
{
    public const int Success = 0;
    public const int Failure = 1;
    public const int BadInput = 2;
    public const int Cancelled = 130;

    public static int Run(RootCommand root, string[] args)
    {
        RemoteArtifacts? remote;
        try
        {
            (remote, args) = RemoteArtifacts.Prepare(args);
        }
        catch (Exception e) when (e is ArgumentException or Storage.ArtifactStoreException)
        {
            Console.Error.WriteLine($"nexus: {e.Message}");
            return BadInput;
        }
        try
        {
            var code = RunLocal(root, args);
            if (code == Success && remote is not null)
            {
                try
                {
                    remote.PublishOutputs();
                }
                catch (Storage.ArtifactStoreException e)
                {
                    Console.Error.WriteLine($"nexus: the step finished but its output was not published: {e.Message}");
                    return Failure;
                }
            }
            return code;
        }
        finally
        {
            remote?.Dispose();
        }
    }

    private static int RunLocal(RootCommand root, string[] args)
    {
        var parsed = root.Parse(args);
        if (parsed.Errors.Count > 0)
        {
            Console.Error.WriteLine($"nexus: {parsed.Errors[0].Message} (see --help)");
            return BadInput;
        }
        try
        {
            // Our handler, not the library's, reports exceptions (one line) and handles SIGTERM (checkpoint first).
            return parsed.Invoke(new InvocationConfiguration
            {
                EnableDefaultExceptionHandler = false,
                ProcessTerminationTimeout = null,
                Output = Console.Out,
                Error = Console.Error,
            });
        }
        catch (Exception e) when (IsUserError(e))
        {
            Console.Error.WriteLine($"nexus: {e.Message}");
            return BadInput;
        }
        catch (OperationCanceledException)
        {
            Console.Error.WriteLine("nexus: cancelled.");
            return Cancelled;
        }
        catch (Exception e)
        {
            Console.Error.WriteLine($"nexus: unexpected {e.GetType().Name}: {e.Message}");
            if (Environment.GetEnvironmentVariable("NEXUS_DEBUG") == "1") Console.Error.WriteLine(e);
            else Console.Error.WriteLine("nexus: set NEXUS_DEBUG=1 for the stack trace.");
            return Failure;
        }
    }

    /// <summary>The <c>--threads</c> option every compute step takes: 0 means one per core.</summary>
    public static void ConfigureThreads(int threads)
    {
        if (threads < 0) throw new ArgumentException($"--threads must not be negative (got {threads}).");
        TorchSharp.torch.set_num_threads(threads == 0 ? Environment.ProcessorCount : threads);
    }

    private static bool IsUserError(Exception e) => e is ArgumentException or FileNotFoundException
        or DirectoryNotFoundException or InvalidDataException or InvalidModelConfigException or InvalidOperationException;
}
