module ebc/bindings/go

go 1.17
