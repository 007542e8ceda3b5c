using System.Globalization;
using System.Runtime.InteropServices;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Threading.Channels;
using k8s;
using Nexus.Api.V1Alpha1;
using Nexus.Api.Validation;
using Nexus.ApiServer;

namespace Nexus.Operator.Bench;

/// <summary>
/// <c>Nexus.Operator.Bench apiserver</c>: the test API server in a process of its own, so the operator's process holds
/// nothing but the operator. The load (creates) and the observation (watches) run here too, for the same reason; their
/// requests carry their own User-Agents and are told apart from the operator's in the request log.
/// </summary>
internal static class ApiServerMode
{
    public static async Task<int> RunAsync(IReadOnlyList<string> args)
    {
        var crds = "crds";
        var expertManifest = "examples/expert-news.yaml";
        var eventHistory = 10_000;
        var garbageCollector = false;
        for (var i = 0; i < args.Count; i++)
        {
            switch (args[i])
            {
                case "--crds": crds = args[++i]; break;
                case "--expert": expertManifest = args[++i]; break;
                case "--event-history": eventHistory = int.Parse(args[++i], CultureInfo.InvariantCulture); break;
                case "--garbage-collector": garbageCollector = true; break;
                default: throw new FormatException($"Unknown apiserver option '{args[i]}'.");
            }
        }

        await using var server = await ApiServer.LocalApiServer.StartAsync(new LocalApiServerOptions
        {
            EventHistoryLimit = eventHistory,
            RunGarbageCollector = garbageCollector,
        });
        server.InstallCrds(crds);
        var template = ReadExpert(expertManifest);
        using var loaderClient = ClientFor(server.BaseUri, ControlProtocol.Agents.Loader);
        using var observerClient = ClientFor(server.BaseUri, ControlProtocol.Agents.Observer);
        var loader = new ExpertLoader(loaderClient, observerClient, template);

        // The parent may be gone mid-command (killed, or failed): stdin closing, or SIGTERM, cancels the command in
        // flight and ends this process, so it never waits out a load nobody will read.
        using var parentGone = new CancellationTokenSource();
        using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, _ => parentGone.Cancel());
        var commands = Channel.CreateUnbounded<string>();
        _ = Task.Run(async () =>
        {
            while (await Console.In.ReadLineAsync() is { } line)
            {
                await commands.Writer.WriteAsync(line);
            }

            commands.Writer.Complete();
            await parentGone.CancelAsync();
        });

        Console.Out.WriteLine(server.BaseUri);
        try
        {
            await foreach (var line in commands.Reader.ReadAllAsync(parentGone.Token))
            {
                var (command, argument) = Split(line);
                if (command == ControlProtocol.Quit)
                {
                    break;
                }

                string answer;
                try
                {
                    answer = $"{ControlProtocol.Ok} {await ExecuteAsync(server, loader, command, argument, parentGone.Token)}";
                }
                catch (Exception failure) when (!parentGone.IsCancellationRequested)
                {
                    answer = $"{ControlProtocol.Error} {failure.GetType().Name}: {failure.Message.ReplaceLineEndings(" ")}";
                }

                Console.Out.WriteLine(answer);
            }
        }
        catch (Exception) when (parentGone.IsCancellationRequested)
        {
            await Console.Error.WriteLineAsync("stdin closed or SIGTERM: stopping");
        }

        return 0;
    }

    private static async Task<string> ExecuteAsync(
        ApiServer.LocalApiServer server, ExpertLoader loader, string command, string argument, CancellationToken cancellationToken)
    {
        switch (command)
        {
            case ControlProtocol.CreateNamespace:
                server.Seed(new JsonObject
                {
                    ["apiVersion"] = "v1",
                    ["kind"] = "Namespace",
                    ["metadata"] = new JsonObject { ["name"] = argument },
                });
                return "{}";
            case ControlProtocol.Load:
                var request = JsonSerializer.Deserialize<LoadRequest>(argument, ControlProtocol.Json)
                    ?? throw new FormatException("load needs a request.");
                using (var limit = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken))
                {
                    limit.CancelAfter(TimeSpan.FromSeconds(request.TimeoutSeconds));
                    var result = await loader.RunAsync(request, limit.Token);
                    return JsonSerializer.Serialize(result, ControlProtocol.Json);
                }

            case ControlProtocol.Mark:
                return JsonSerializer.Serialize(new { mark = server.Requests.Mark() }, ControlProtocol.Json);
            case ControlProtocol.Requests:
                var mark = long.Parse(argument, CultureInfo.InvariantCulture);
                var counts = server.Requests.Since(mark)
                    .GroupBy(record => (Agent: record.UserAgent ?? "", record.Verb, record.Resource, record.Subresource, record.StatusCode, record.IsWrite))
                    .Select(group => new RequestCount(group.Key.Agent, group.Key.Verb, group.Key.Resource, group.Key.Subresource, group.Key.StatusCode, group.Key.IsWrite, group.Count()))
                    .OrderBy(count => count.Agent, StringComparer.Ordinal).ThenByDescending(count => count.Count)
                    .ToList();
                return JsonSerializer.Serialize(new RequestSnapshot(server.Requests.Mark(), counts), ControlProtocol.Json);
            default:
                throw new FormatException($"Unknown command '{command}'.");
        }
    }

    private static (string Command, string Argument) Split(string line)
    {
        var space = line.IndexOf(' ', StringComparison.Ordinal);
        return space < 0 ? (line.Trim(), "") : (line[..space], line[(space + 1)..]);
    }

    private static Kubernetes ClientFor(Uri server, string userAgent) =>
        new(new KubernetesClientConfiguration { Host = server.ToString(), UserAgent = userAgent });

    /// <summary>The manifest as kubectl would send it (not re-serialised through the C# type, which would add defaults).</summary>
    private static JsonObject ReadExpert(string path)
    {
        var documents = YamlToJson.ConvertAll(File.ReadAllText(path));
        if (documents is not [JsonObject expert] || expert["kind"]?.GetValue<string>() != Expert.KubeKind)
        {
            throw new FormatException($"{path} should hold exactly one Expert.");
        }

        return expert;
    }
}
