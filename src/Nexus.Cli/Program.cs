System.Console.WriteLine(Nexus.Model.TorchProbe.Describe());
