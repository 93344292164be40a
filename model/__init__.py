"""The networks of the collection: the LeNet family and AlexNet. Networks only: no file I/O, no plotting.

Import the module you need (`from model.lenet import LeNet`), so a reader always sees where a
network lives.
"""
