using System.Reflection;
using System.Text.Json;
using k8s.Models;
using Nexus.Operator.Specs;
using static Nexus.Operator.Tests.Specs.SpecFixtures;

namespace Nexus.Operator.Tests.Images;

/// <summary>
/// build/docker/*.Dockerfile against what the rest of the repository expects of the images, without docker: the entry
/// points are the apphosts the pods run, the user is the pods' user, every path the builds copy or publish exists, the
/// restore layer copies exactly the projects the publish needs, and the operator never reaches TorchSharp.
/// </summary>
public sealed class ImageTests
{
    private const string OperatorDockerfile = "build/docker/operator.Dockerfile";
    private const string WorkerDockerfile = "build/docker/worker.Dockerfile";
    private const string OperatorProject = "src/Nexus.Operator/Nexus.Operator.csproj";
    private const string WorkerProject = "src/Nexus.Cli/Nexus.Cli.csproj";

    private static Dockerfile Load(string relative) => Dockerfile.Load(RepositoryRoot.Combine(relative));

    [Fact]
    public void OperatorImageRunsTheOperatorApphost()
    {
        var apphost = ProjectGraph.Property(RepositoryRoot.Combine(OperatorProject), "AssemblyName");

        Assert.Equal("nexus-operator", apphost);
        Assert.Equal([apphost!], Load(OperatorDockerfile).Entrypoint());
    }

    [Fact]
    public void WorkerImageRunsTheCommandOfEveryWorkerContainer()
    {
        var entrypoint = Load(WorkerDockerfile).Entrypoint();
        Assert.Equal([WorkerPod.Command], entrypoint);
        Assert.Equal(WorkerPod.Command, ProjectGraph.Property(RepositoryRoot.Combine(WorkerProject), "AssemblyName"));

        var expert = NewsExpert();
        var model = DemoModel();
        var job = StepJob.Build(expert, StepCommands.Train(expert, Paths), expert.Spec.Resources, Settings);
        var serving = ServingDeployment.Build(model, 1, Paths.RevisionModel(model, DemoBuild(1)), Settings);
        var workerContainers = new[] { job.Spec.Template.Spec, serving.Spec.Template.Spec }
            .SelectMany(pod => (pod.InitContainers ?? []).Concat(pod.Containers).Select(container => (pod, container)))
            .Where(pair => pair.container.Image == Settings.WorkerImage)
            .ToList();

        Assert.True(workerContainers.Count >= 2, "Expected the step Job's and the serving Deployment's nexus containers.");
        foreach (var (pod, container) in workerContainers)
        {
            Assert.Equal(entrypoint[0], container.Command[0]);
            // The image's own HOME and TMPDIR are only a fallback: the pod puts both on a writable mounted volume.
            foreach (var variable in new[] { "HOME", "TMPDIR" })
            {
                var value = Assert.Single(container.Env, e => e.Name == variable).Value;
                Assert.Contains(container.VolumeMounts, mount =>
                    mount.ReadOnlyProperty != true && (value == mount.MountPath || value.StartsWith(mount.MountPath + "/", StringComparison.Ordinal))
                    && pod.Volumes.Any(volume => volume.Name == mount.Name && volume.EmptyDir is not null));
            }
        }
    }

    [Theory]
    [InlineData(OperatorDockerfile)]
    [InlineData(WorkerDockerfile)]
    public void ImagesRunAsThePodsNonRootUser(string dockerfile)
    {
        var user = Load(dockerfile).User().Split(':');

        Assert.Equal(2, user.Length);
        Assert.All(user, id => Assert.Equal(WorkerPod.RunAsUser, long.Parse(id, System.Globalization.CultureInfo.InvariantCulture)));
        Assert.Equal(WorkerPod.RunAsUser, WorkerPod.ContainerSecurityContext().RunAsUser);
        Assert.Equal(WorkerPod.RunAsUser, WorkerPod.ContainerSecurityContext().RunAsGroup);
    }

    /// <summary>What <c>make images</c> tags is what the chart and the operator run by default: the operator image and
    /// its tag (the chart's appVersion), the worker image the operator gives its pods, the image's user, and the chart's
    /// arguments after the image's entry point.</summary>
    [Fact]
    public void TheChartAndTheOperatorRunTheImagesMakeImagesBuilds()
    {
        var makefile = File.ReadAllText(RepositoryRoot.Combine("Makefile"));
        string MakeDefault(string name) =>
            System.Text.RegularExpressions.Regex.Match(makefile, $@"^{name} \?= (\S+)$", System.Text.RegularExpressions.RegexOptions.Multiline)
                is { Success: true } match ? match.Groups[1].Value : throw new Xunit.Sdk.XunitException($"The Makefile has no default for {name}.");
        var (registry, tag) = (MakeDefault("IMAGE_REGISTRY"), MakeDefault("IMAGE_TAG"));
        Assert.Contains($"-t $(IMAGE_REGISTRY)/nexus-operator:$(IMAGE_TAG)", makefile);
        Assert.Contains($"-t $(IMAGE_REGISTRY)/nexus-worker:$(IMAGE_TAG)", makefile);

        var values = Chart.ChartFiles.Values();
        Assert.Equal($"{registry}/nexus-operator", values["image"]!["repository"]!.GetValue<string>());
        Assert.Contains($"appVersion: \"{tag}\"", File.ReadAllText(Path.Combine(Chart.ChartFiles.Chart, "Chart.yaml")));
        Assert.Equal($"{registry}/nexus-worker:{tag}", values["operator"]!["workerImage"]!.GetValue<string>());
        Assert.Equal($"{registry}/nexus-worker:{tag}", new OperatorSettings().WorkerImage);
        Assert.Equal(WorkerPod.RunAsUser, values["podSecurityContext"]!["runAsUser"]!.GetValue<long>());

        // The image's ENTRYPOINT is nexus-operator and its CMD `run`; the chart's args replace the CMD, so they start with it.
        var deployment = File.ReadAllText(Path.Combine(Chart.ChartFiles.Chart, "templates", "deployment.yaml"));
        Assert.Matches(@"args:\s*\n\s*- run\n", deployment);
        Assert.Contains("CMD [\"run\"]", File.ReadAllText(RepositoryRoot.Combine(OperatorDockerfile)));
    }

    [Theory]
    [InlineData(OperatorDockerfile, OperatorProject)]
    [InlineData(WorkerDockerfile, WorkerProject)]
    public void PublishesAndRestoresTheProjectThatExists(string dockerfile, string project)
    {
        var image = Load(dockerfile);

        var published = Assert.Single(image.CommandTargets("dotnet publish"));
        Assert.Equal(project, published.Target);
        Assert.True(File.Exists(RepositoryRoot.Combine(published.Target)), $"{dockerfile}:{published.Run.Line} publishes a missing {published.Target}.");
        Assert.Equal(project, Assert.Single(image.CommandTargets("dotnet restore")).Target);
        Assert.Contains("--no-restore", published.Run.Arguments);
        Assert.Contains("-c Release", published.Run.Arguments);
    }

    [Theory]
    [InlineData(OperatorDockerfile)]
    [InlineData(WorkerDockerfile)]
    public void EveryCopiedPathExists(string dockerfile)
    {
        var sources = Load(dockerfile).LocalCopySources().ToList();

        Assert.NotEmpty(sources);
        foreach (var (source, copy) in sources)
        {
            var path = RepositoryRoot.Combine(source);
            Assert.True(File.Exists(path) || Directory.Exists(path), $"{dockerfile}:{copy.Line} copies {source}, which does not exist.");
        }
    }

    /// <summary>The restore layer copies the project files alone, so it must name every project of the graph (and
    /// every MSBuild file they import): a new ProjectReference fails here instead of in a docker build.</summary>
    [Theory]
    [InlineData(OperatorDockerfile, OperatorProject)]
    [InlineData(WorkerDockerfile, WorkerProject)]
    public void CopiesExactlyTheProjectsAndBuildFilesThePublishNeeds(string dockerfile, string project)
    {
        var copied = Load(dockerfile).LocalCopySources().Select(c => c.Source.TrimEnd('/')).ToHashSet(StringComparer.Ordinal);
        string Relative(string path) => Path.GetRelativePath(RepositoryRoot.Path, path).Replace('\\', '/');

        var closure = ProjectGraph.Closure(RepositoryRoot.Combine(project)).Select(Relative).Order().ToList();
        Assert.Equal(closure, copied.Where(c => c.EndsWith(".csproj", StringComparison.Ordinal)).Order().ToList());
        foreach (var projectFile in closure)
            Assert.Contains(Path.GetDirectoryName(projectFile)!.Replace('\\', '/'), copied);

        var imports = closure.SelectMany(p => ProjectGraph.Imports(RepositoryRoot.Combine(p))).Select(Relative).Distinct().Order().ToList();
        Assert.Contains("build/LibTorchSharpCompat.targets", imports);
        Assert.Equal(imports, copied.Where(c => !c.EndsWith(".csproj", StringComparison.Ordinal) && File.Exists(RepositoryRoot.Combine(c))).Order().ToList());
    }

    [Fact]
    public void OperatorProjectGraphNeverReachesTorchSharp()
    {
        static bool IsTorch(string package) =>
            package.StartsWith("TorchSharp", StringComparison.OrdinalIgnoreCase) || package.StartsWith("libtorch", StringComparison.OrdinalIgnoreCase);

        var operatorGraph = ProjectGraph.Closure(RepositoryRoot.Combine(OperatorProject));
        var workerGraph = ProjectGraph.Closure(RepositoryRoot.Combine(WorkerProject));

        Assert.All(operatorGraph, project => Assert.DoesNotContain(ProjectGraph.Packages(project), IsTorch));
        Assert.DoesNotContain(operatorGraph, project => ProjectGraph.Imports(project).Any(i => i.EndsWith("TorchSharp.props", StringComparison.Ordinal)));
        // The same walk does find TorchSharp from the worker (through Nexus.Model), so the check above can fail.
        Assert.Contains(workerGraph, project => ProjectGraph.Packages(project).Any(IsTorch));
    }

    /// <summary>What the operator's build actually resolved, transitive packages included: its deps.json (the one a
    /// publish writes too) and its output folder hold no TorchSharp or libtorch.</summary>
    [Fact]
    public void OperatorBuildOutputHoldsNoTorchSharpOrLibtorch()
    {
        // This test project's output is tests/Nexus.Operator.Tests/bin/<configuration>/<tfm>/<rid>; the operator's is
        // the same path under src/Nexus.Operator.
        var testProject = RepositoryRoot.Combine("tests", "Nexus.Operator.Tests");
        var outputPath = Path.GetRelativePath(testProject, AppContext.BaseDirectory);
        var output = Path.GetFullPath(Path.Combine(RepositoryRoot.Combine("src", "Nexus.Operator"), outputPath));
        var depsFile = Path.Combine(output, "nexus-operator.deps.json");
        Assert.True(File.Exists(depsFile), $"No {depsFile}: build the solution first (dotnet build Nexus.Operator.sln).");

        using var deps = JsonDocument.Parse(File.ReadAllText(depsFile));
        var libraries = deps.RootElement.GetProperty("libraries").EnumerateObject().Select(library => library.Name).ToList();
        Assert.Contains(libraries, library => library.StartsWith("KubernetesClient/", StringComparison.Ordinal));
        Assert.DoesNotContain(libraries, library => library.Contains("torch", StringComparison.OrdinalIgnoreCase));
        Assert.True(File.Exists(Path.Combine(output, "nexus-operator.dll")));
        Assert.DoesNotContain(Directory.EnumerateFiles(output, "*", SearchOption.AllDirectories),
            file => Path.GetFileName(file).Contains("torch", StringComparison.OrdinalIgnoreCase));
    }

    [Fact]
    public void WorkerBuildArgumentSelectsTheTorchBackendForRestoreAndPublish()
    {
        var image = Load(WorkerDockerfile);
        var build = image.Stages[0];

        Assert.Contains(build, i => i.Keyword == "ARG" && i.Arguments == "TORCH_BACKEND=cpu");
        foreach (var command in new[] { "dotnet restore", "dotnet publish" })
            Assert.Contains("-p:TorchBackend=${TORCH_BACKEND}", Assert.Single(image.CommandTargets(command)).Run.Arguments);

        var torchProps = File.ReadAllText(RepositoryRoot.Combine("build", "TorchSharp.props"));
        Assert.Contains("'$(TorchBackend)' == 'cpu'", torchProps);
        Assert.Contains("'$(TorchBackend)' == 'cuda'", torchProps);
        Assert.Contains(image.FinalStage, i => i.Keyword == "FROM" && i.Arguments == "${BASE_IMAGE}");
        Assert.Contains(image.All, i => i.Keyword == "ARG" && i.Arguments.StartsWith("BASE_IMAGE=", StringComparison.Ordinal));
    }

    [Fact]
    public void FinalStagesCarryOciLabels()
    {
        foreach (var dockerfile in new[] { OperatorDockerfile, WorkerDockerfile })
        {
            var labels = string.Join(' ', Load(dockerfile).FinalStage.Where(i => i.Keyword == "LABEL").Select(i => i.Arguments));
            foreach (var key in new[] { "title", "version", "revision", "source" })
                Assert.Contains($"org.opencontainers.image.{key}=", labels);
        }
    }

    [Fact]
    public void MakeImagesBuildsBothDockerfilesAndTheCudaWorker()
    {
        var makefile = File.ReadAllText(RepositoryRoot.Combine("Makefile"));

        Assert.Contains("images: image-operator image-worker", makefile);
        Assert.Contains($"-f {OperatorDockerfile}", makefile);
        Assert.Contains($"-f {WorkerDockerfile}", makefile);
        Assert.Contains("--build-arg TORCH_BACKEND=cuda", makefile);
        Assert.Contains("IMAGE_REGISTRY ?=", makefile);
        Assert.Contains("IMAGE_TAG ?=", makefile);
    }

    /// <summary>A host's obj/project.assets.json copied into the context would stand in for the container's restore.</summary>
    [Fact]
    public void DockerignoreKeepsLocalBuildOutputAndRunsOutOfTheContext()
    {
        var ignored = File.ReadAllLines(RepositoryRoot.Combine(".dockerignore")).Select(l => l.Trim()).ToHashSet();

        foreach (var pattern in new[] { "**/bin/", "**/obj/", ".git/", ".cache/", "runs/", "bench/results/", "**/node_modules/" })
            Assert.Contains(pattern, ignored);
    }
}
