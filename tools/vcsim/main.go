// Command vcsim starts govmomi's vCenter simulator on a loopback address with the inventory a
// scenario file asks for, repairs the stock simulator's known gaps (datastore mounts, vMotion,
// HA settings, host states, snapshot times), prints "READY <url>" and serves until SIGTERM.
//
// Build offline against Debian's golang-github-vmware-govmomi-dev (GOPATH mode):
//
//	GO111MODULE=off GOPATH=$CACHE:/usr/share/gocode GOPROXY=off go build -o vcsim .
//
// Usage: vcsim -scenario scenario.json   (see README.md for the fields)
package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"flag"
	"fmt"
	"io/ioutil"
	"math/big"
	"net"
	"net/url"
	"os"
	"os/signal"
	"path"
	"strings"
	"syscall"
	"time"

	"github.com/vmware/govmomi/find"
	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/types"
)

// HostSpec changes one host's state after the inventory is built.
type HostSpec struct {
	Maintenance bool   `json:"maintenance"`
	Connection  string `json:"connection"` // connected | disconnected | notResponding
	VMotion     *bool  `json:"vmotion"`
}

// DatastoreSpec adds a datastore mounted by the listed hosts only.
type DatastoreSpec struct {
	Name  string   `json:"name"`
	Hosts []string `json:"hosts"`
	Type  string   `json:"type"`
}

// DiskSpec is one virtual disk of a VM.
type DiskSpec struct {
	Datastore string `json:"datastore"`
	SizeGB    int64  `json:"size_gb"`
}

// SnapshotSpec is one snapshot; Time (RFC 3339) back-dates it.
type SnapshotSpec struct {
	Name string `json:"name"`
	Time string `json:"time"`
}

// VMSpec is one VM to create.
type VMSpec struct {
	Name       string         `json:"name"`
	Datacenter string         `json:"datacenter"` // DC0 (default), DC1, ...
	Templates  []string       `json:"templates"`  // templates cloned from it (CloneVM_Task, spec.template)
	Hostname  string         `json:"hostname"`
	Host      string         `json:"host"`
	Power     string         `json:"power"` // on (default) | off
	Template  bool           `json:"template"`
	Disks     []DiskSpec     `json:"disks"`
	Devices   []string       `json:"devices"` // pci hba scsi tape changer scsi_other usb serial parallel cdrom_host cdrom_iso serial_file
	Snapshots []SnapshotSpec `json:"snapshots"`
}

// RuleSpec is a VM-host rule; Mandatory=true is "must run on", false "should run on".
type RuleSpec struct {
	Name      string   `json:"name"`
	Mandatory bool     `json:"mandatory"`
	Enabled   *bool    `json:"enabled"`
	Anti      bool     `json:"anti"`
	VMs       []string `json:"vms"`
	Hosts     []string `json:"hosts"`
}

// Scenario is the whole inventory request.
type Scenario struct {
	Listen          string                   `json:"listen"`
	User            string                   `json:"user"`
	Password        string                   `json:"password"`
	TLS             *bool                    `json:"tls"`
	CertOut         string                   `json:"cert_out"`
	Datacenters     int                      `json:"datacenters"`
	Rename          map[string]string        `json:"rename"` // cluster or datastore name -> display name
	Clusters        int                      `json:"clusters"`
	HostsPerCluster int                      `json:"hosts_per_cluster"`
	StandaloneHosts int                      `json:"standalone_hosts"`
	HA              *bool                    `json:"ha"`
	DRS             *bool                    `json:"drs"`
	DRSBehavior     string                   `json:"drs_behavior"`
	VMotion         *bool                    `json:"vmotion"`
	SharedType      string                   `json:"shared_type"`
	Hosts           map[string]HostSpec      `json:"hosts"`
	Datastores      []DatastoreSpec          `json:"datastores"`
	VMs             []VMSpec                 `json:"vms"`
	Rules           []RuleSpec               `json:"rules"`
	HADisabledVMs   []string                 `json:"ha_disabled_vms"`
	DRSDisabledVMs  []string                 `json:"drs_disabled_vms"`
	DelayMS         int                      `json:"delay_ms"`
	MethodDelayMS   map[string]int           `json:"method_delay_ms"`
	Extra           map[string]interface{}   `json:"extra"`
}

func boolOr(b *bool, def bool) bool {
	if b == nil {
		return def
	}
	return *b
}

func newUUID() string {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		die("uuid: %v", err)
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

func die(format string, args ...interface{}) {
	fmt.Fprintf(os.Stderr, "vcsim: "+format+"\n", args...)
	os.Exit(1)
}

// selfSignedCert makes an ECDSA certificate for 127.0.0.1 that is its own CA.
func selfSignedCert() (tls.Certificate, []byte) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		die("key: %v", err)
	}
	tmpl := x509.Certificate{
		SerialNumber:          big.NewInt(time.Now().UnixNano()),
		Subject:               pkix.Name{CommonName: "127.0.0.1", Organization: []string{"policycheck vcsim"}},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		IPAddresses:           []net.IP{net.ParseIP("127.0.0.1")},
		DNSNames:              []string{"localhost"},
	}
	der, err := x509.CreateCertificate(rand.Reader, &tmpl, &tmpl, &key.PublicKey, key)
	if err != nil {
		die("cert: %v", err)
	}
	keyDer, _ := x509.MarshalECPrivateKey(key)
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDer})
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		die("keypair: %v", err)
	}
	return cert, certPEM
}

func main() {
	scenarioPath := flag.String("scenario", "", "scenario JSON file")
	flag.Parse()

	sc := Scenario{}
	if *scenarioPath != "" {
		data, err := ioutil.ReadFile(*scenarioPath)
		if err != nil {
			die("read scenario: %v", err)
		}
		if err := json.Unmarshal(data, &sc); err != nil {
			die("parse scenario: %v", err)
		}
	}
	if sc.Listen == "" {
		sc.Listen = "127.0.0.1:0"
	}
	if host, _, err := net.SplitHostPort(sc.Listen); err != nil || !net.ParseIP(host).IsLoopback() {
		die("listen address %q is not a loopback address", sc.Listen)
	}
	if sc.Clusters == 0 && sc.StandaloneHosts == 0 {
		sc.Clusters = 1
	}
	if sc.HostsPerCluster == 0 {
		sc.HostsPerCluster = 3
	}

	model := simulator.VPX()
	model.Datacenter = 1
	if sc.Datacenters > 1 {
		model.Datacenter = sc.Datacenters
	}
	model.Cluster = sc.Clusters
	model.ClusterHost = sc.HostsPerCluster
	model.Host = sc.StandaloneHosts
	model.Machine = 0
	model.Datastore = 1
	model.Portgroup = 1
	defer model.Remove()

	if err := model.Create(); err != nil {
		die("create model: %v", err)
	}

	ctx := context.Background()
	client, err := vim25.NewClient(ctx, model.Service)
	if err != nil {
		die("client: %v", err)
	}
	finder := find.NewFinder(client, true)
	dcFolders := func(name string) *object.DatacenterFolders {
		if name == "" {
			name = "DC0"
		}
		dc, err := finder.Datacenter(ctx, name)
		if err != nil {
			die("datacenter %s: %v", name, err)
		}
		folders, err := dc.Folders(ctx)
		if err != nil {
			die("folders: %v", err)
		}
		return folders
	}

	hostByName := map[string]*simulator.HostSystem{}
	for _, e := range simulator.Map.All("HostSystem") {
		h := e.(*simulator.HostSystem)
		hostByName[h.Name] = h
	}
	findHost := func(name string) *simulator.HostSystem {
		h, ok := hostByName[name]
		if !ok {
			die("no host named %q", name)
		}
		return h
	}

	// Extra datastores mounted only by the listed hosts.
	for _, d := range sc.Datastores {
		dir, err := ioutil.TempDir("", "vcsim-ds-")
		if err != nil {
			die("tempdir: %v", err)
		}
		defer os.RemoveAll(dir)
		for _, hn := range d.Hosts {
			h := object.NewHostSystem(client, findHost(hn).Reference())
			dss, err := h.ConfigManager().DatastoreSystem(ctx)
			if err != nil {
				die("datastore system: %v", err)
			}
			if _, err := dss.CreateLocalDatastore(ctx, d.Name, dir); err != nil {
				die("create datastore %s on %s: %v", d.Name, hn, err)
			}
		}
	}

	// Trap: a datastore that several hosts mount lists only the last one in host[]; rebuild
	// every datastore's mounts from the hosts' own datastore lists.
	dsTypes := map[string]string{"LocalDS_0": "VMFS"}
	if sc.SharedType != "" {
		dsTypes["LocalDS_0"] = sc.SharedType
	}
	for _, d := range sc.Datastores {
		if d.Type != "" {
			dsTypes[d.Name] = d.Type
		}
	}
	for _, e := range simulator.Map.All("Datastore") {
		ds := e.(*simulator.Datastore)
		var mounts []types.DatastoreHostMount
		for _, he := range simulator.Map.All("HostSystem") {
			h := he.(*simulator.HostSystem)
			for _, ref := range h.Datastore {
				if ref == ds.Self {
					mounts = append(mounts, types.DatastoreHostMount{
						Key: h.Self,
						MountInfo: types.HostMountInfo{
							AccessMode: string(types.HostMountModeReadWrite),
							Mounted:    types.NewBool(true),
							Accessible: types.NewBool(true),
						},
					})
				}
			}
		}
		ds.Host = mounts
		ds.Summary.MultipleHostAccess = types.NewBool(len(mounts) > 1)
		if t, ok := dsTypes[ds.Name]; ok {
			ds.Summary.Type = t
		}
	}

	// A datastore by name among those the host mounts (names repeat across datacenters).
	hostDatastore := func(hs *simulator.HostSystem, name string) *simulator.Datastore {
		for _, ref := range hs.Datastore {
			ds := simulator.Map.Get(ref).(*simulator.Datastore)
			if ds.Name == name {
				return ds
			}
		}
		return nil
	}

	// VMs.
	vmRefs := map[string]types.ManagedObjectReference{}
	for _, spec := range sc.VMs {
		folders := dcFolders(spec.Datacenter)
		hs := findHost(spec.Host)
		host := object.NewHostSystem(client, hs.Reference())
		pool, err := host.ResourcePool(ctx)
		if err != nil {
			die("pool of %s: %v", spec.Host, err)
		}
		disks := spec.Disks
		if len(disks) == 0 {
			disks = []DiskSpec{{Datastore: "LocalDS_0", SizeGB: 40}}
		}
		firstDS := disks[0].Datastore
		config := types.VirtualMachineConfigSpec{
			Name:    spec.Name,
			GuestId: string(types.VirtualMachineGuestOsIdentifierOtherGuest64),
			Files:   &types.VirtualMachineFileInfo{VmPathName: "[" + firstDS + "]"},
		}
		var devices object.VirtualDeviceList
		scsi, _ := devices.CreateSCSIController("pvscsi")
		devices = append(devices, scsi)
		ide, _ := devices.CreateIDEController()
		devices = append(devices, ide)
		for i, d := range disks {
			ds := hostDatastore(hs, d.Datastore)
			if ds == nil {
				die("vm %s: host %s mounts no datastore %q", spec.Name, spec.Host, d.Datastore)
			}
			file := fmt.Sprintf("%s_%d.vmdk", spec.Name, i)
			if d.Datastore == firstDS {
				// only the VM's home datastore has its directory
				file = path.Join(spec.Name, file)
			}
			disk := devices.CreateDisk(scsi.(types.BaseVirtualController), ds.Self,
				fmt.Sprintf("[%s] %s", d.Datastore, file))
			size := d.SizeGB
			if size == 0 {
				size = 10
			}
			disk.CapacityInKB = size * 1024 * 1024
			disk.UnitNumber = types.NewInt32(int32(i))
			devices = append(devices, disk)
		}
		config.DeviceChange, _ = devices.ConfigSpec(types.VirtualDeviceConfigSpecOperationAdd)
		task, err := folders.VmFolder.CreateVM(ctx, config, pool, host)
		if err != nil {
			die("create vm %s: %v", spec.Name, err)
		}
		info, err := task.WaitForResult(ctx, nil)
		if err != nil {
			die("create vm %s: %v", spec.Name, err)
		}
		ref := info.Result.(types.ManagedObjectReference)
		vmKey := spec.Name
		if spec.Datacenter != "" && spec.Datacenter != "DC0" {
			vmKey = spec.Datacenter + "/" + spec.Name
		}
		vmRefs[vmKey] = ref
		vm := object.NewVirtualMachine(client, ref)

		for _, s := range spec.Snapshots {
			t, err := vm.CreateSnapshot(ctx, s.Name, "", false, false)
			if err != nil {
				die("snapshot: %v", err)
			}
			if err := t.Wait(ctx); err != nil {
				die("snapshot: %v", err)
			}
		}

		if spec.Power != "off" && !spec.Template {
			t, err := vm.PowerOn(ctx)
			if err == nil {
				err = t.Wait(ctx)
			}
			if err != nil {
				die("power on %s: %v", spec.Name, err)
			}
		}
		if spec.Template {
			if err := vm.MarkAsTemplate(ctx); err != nil {
				die("mark as template %s: %v", spec.Name, err)
			}
		}

		svm := simulator.Map.Get(ref).(*simulator.VirtualMachine)
		// Trap: the stock simulator derives a VM's instanceUuid from its name, so same-named VMs in
		// two datacenters share one; vCenter keeps instanceUuid unique. Give each VM its own.
		svm.Config.InstanceUuid = newUUID()
		// Templates made from this VM through the API (CloneVM_Task with spec.template), so that
		// vCenter records the VmClonedEvent. Trap: the stock clone shares the source's device objects
		// and clears the source disks' file names; give the clone its own disks and restore the source's.
		for _, tname := range spec.Templates {
			saved := map[int32]string{}
			for _, d := range svm.Config.Hardware.Device {
				if disk, ok := d.(*types.VirtualDisk); ok {
					saved[disk.Key] = disk.Backing.(*types.VirtualDiskFlatVer2BackingInfo).FileName
				}
			}
			t, err := vm.Clone(ctx, folders.VmFolder, tname, types.VirtualMachineCloneSpec{Template: true})
			if err != nil {
				die("clone %s to template %s: %v", spec.Name, tname, err)
			}
			tinfo, err := t.WaitForResult(ctx, nil)
			if err != nil {
				die("clone %s to template %s: %v", spec.Name, tname, err)
			}
			tref := tinfo.Result.(types.ManagedObjectReference)
			tvm := simulator.Map.Get(tref).(*simulator.VirtualMachine)
			var own []types.BaseVirtualDevice
			for _, d := range tvm.Config.Hardware.Device {
				if disk, ok := d.(*types.VirtualDisk); ok {
					c := *disk
					b := *disk.Backing.(*types.VirtualDiskFlatVer2BackingInfo)
					c.Backing = &b
					d = &c
				}
				own = append(own, d)
			}
			tvm.Config.Hardware.Device = own
			for _, d := range svm.Config.Hardware.Device {
				if disk, ok := d.(*types.VirtualDisk); ok {
					if name, ok := saved[disk.Key]; ok {
						disk.Backing.(*types.VirtualDiskFlatVer2BackingInfo).FileName = name
					}
				}
			}
			tkey := tname
			if spec.Datacenter != "" && spec.Datacenter != "DC0" {
				tkey = spec.Datacenter + "/" + tname
			}
			vmRefs[tkey] = tref
		}
		if spec.Hostname != "" {
			svm.Guest.HostName = spec.Hostname
			svm.Summary.Guest.HostName = spec.Hostname
		}
		// Back-date snapshots (the simulator stamps "now").
		if svm.Snapshot != nil {
			var walk func(list []types.VirtualMachineSnapshotTree)
			walk = func(list []types.VirtualMachineSnapshotTree) {
				for i := range list {
					for _, s := range spec.Snapshots {
						if s.Name == list[i].Name && s.Time != "" {
							t, err := time.Parse(time.RFC3339, s.Time)
							if err != nil {
								die("snapshot time %q: %v", s.Time, err)
							}
							list[i].CreateTime = t
						}
					}
					walk(list[i].ChildSnapshotList)
				}
			}
			walk(svm.Snapshot.RootSnapshotList)
		}
		// Host-bound devices, appended in place (keys beyond the simulator's own).
		key := int32(5000)
		for _, d := range spec.Devices {
			key++
			var dev types.BaseVirtualDevice
			base := types.VirtualDevice{Key: key}
			label := d + " " + fmt.Sprint(key)
			summary := d
			switch d {
			case "pci", "hba":
				// what vCenter shows for a DirectPath I/O device: "<PCI id> | <vendor> <device name>"
				base.Backing = &types.VirtualPCIPassthroughDeviceBackingInfo{
					VirtualDeviceDeviceBackingInfo: types.VirtualDeviceDeviceBackingInfo{DeviceName: "ISP2532-based 8Gb Fibre Channel to PCI Express HBA"},
					Id: "0000:3b:00.0", DeviceId: "2532", SystemId: "5d3f-host", VendorId: 0x1077,
				}
				label = "PCI device 0"
				summary = "0000:3b:00.0 | QLogic Corp ISP2532-based 8Gb Fibre Channel to PCI Express HBA"
				dev = &types.VirtualPCIPassthrough{VirtualDevice: base}
			case "scsi", "tape", "changer", "scsi_other":
				// SCSI generic passthrough: the label is only "SCSI device N"; the description of
				// the device (the host's SCSI LUN) is in deviceInfo.summary
				naa := map[string]string{"scsi": "naa.50014380272d5a10", "tape": "naa.50014380272d5a10",
					"changer": "naa.50014380272d5a14", "scsi_other": "naa.600508b1001c7e12"}[d]
				unit := map[string]int32{"scsi": 7, "tape": 7, "changer": 8, "scsi_other": 9}[d]
				summary = map[string]string{"scsi": "LTO-8", "tape": "LTO-8", "changer": "medium changer",
					"scsi_other": "SCSI device"}[d]
				base.Backing = &types.VirtualSCSIPassthroughDeviceBackingInfo{
					VirtualDeviceDeviceBackingInfo: types.VirtualDeviceDeviceBackingInfo{DeviceName: "/vmfs/devices/genscsi/" + naa},
				}
				label = fmt.Sprintf("SCSI device %d", unit-7)
				base.ControllerKey = 1000
				base.UnitNumber = types.NewInt32(unit)
				dev = &types.VirtualSCSIPassthrough{VirtualDevice: base}
			case "usb":
				base.Backing = &types.VirtualUSBUSBBackingInfo{
					VirtualDeviceDeviceBackingInfo: types.VirtualDeviceDeviceBackingInfo{DeviceName: "path:1/0/2 version:2"},
				}
				label = "USB 1"
				dev = &types.VirtualUSB{VirtualDevice: base, Connected: true}
			case "serial":
				base.Backing = &types.VirtualSerialPortDeviceBackingInfo{
					VirtualDeviceDeviceBackingInfo: types.VirtualDeviceDeviceBackingInfo{DeviceName: "/dev/char/serial/uart0"},
				}
				label = "Serial port 1"
				dev = &types.VirtualSerialPort{VirtualDevice: base}
			case "serial_file":
				base.Backing = &types.VirtualSerialPortFileBackingInfo{
					VirtualDeviceFileBackingInfo: types.VirtualDeviceFileBackingInfo{FileName: "[LocalDS_0] console.log"},
				}
				label = "Serial port 2"
				dev = &types.VirtualSerialPort{VirtualDevice: base}
			case "parallel":
				base.Backing = &types.VirtualParallelPortDeviceBackingInfo{
					VirtualDeviceDeviceBackingInfo: types.VirtualDeviceDeviceBackingInfo{DeviceName: "/dev/parport0"},
				}
				label = "Parallel port 1"
				dev = &types.VirtualParallelPort{VirtualDevice: base}
			case "cdrom_host":
				base.Backing = &types.VirtualCdromAtapiBackingInfo{
					VirtualDeviceDeviceBackingInfo: types.VirtualDeviceDeviceBackingInfo{DeviceName: "/vmfs/devices/cdrom/mpx.vmhba0:C0:T0:L0"},
				}
				label = "CD/DVD drive 9"
				dev = &types.VirtualCdrom{VirtualDevice: base}
			case "cdrom_iso":
				base.Backing = &types.VirtualCdromIsoBackingInfo{
					VirtualDeviceFileBackingInfo: types.VirtualDeviceFileBackingInfo{FileName: "[LocalDS_0] iso/debian.iso"},
				}
				label = "CD/DVD drive 8"
				dev = &types.VirtualCdrom{VirtualDevice: base}
			default:
				die("vm %s: unknown device %q", spec.Name, d)
			}
			dev.GetVirtualDevice().DeviceInfo = &types.Description{Label: label, Summary: summary}
			svm.Config.Hardware.Device = append(svm.Config.Hardware.Device, dev)
		}
	}
	findVM := func(name string) types.ManagedObjectReference {
		ref, ok := vmRefs[name]
		if !ok {
			die("no vm named %q in the scenario", name)
		}
		return ref
	}

	// Cluster settings: HA/DRS changes through the API are ignored by this simulator version.
	for _, e := range simulator.Map.All("ClusterComputeResource") {
		c := e.(*simulator.ClusterComputeResource)
		cfg := c.ConfigurationEx.(*types.ClusterConfigInfoEx)
		cfg.DasConfig.Enabled = types.NewBool(boolOr(sc.HA, true))
		cfg.DasConfig.HostMonitoring = "enabled"
		cfg.DasConfig.AdmissionControlEnabled = types.NewBool(true)
		cfg.DrsConfig.Enabled = types.NewBool(boolOr(sc.DRS, true))
		behavior := sc.DRSBehavior
		if behavior == "" {
			behavior = string(types.DrsBehaviorFullyAutomated)
		}
		cfg.DrsConfig.DefaultVmBehavior = types.DrsBehavior(behavior)

		inCluster := func(h mo.Reference) bool {
			for _, r := range c.Host {
				if r == h.Reference() {
					return true
				}
			}
			return false
		}
		for i, r := range sc.Rules {
			var vms, hosts []types.ManagedObjectReference
			for _, v := range r.VMs {
				vms = append(vms, findVM(v))
			}
			for _, hn := range r.Hosts {
				h := findHost(hn)
				if !inCluster(h) {
					continue
				}
				hosts = append(hosts, h.Self)
			}
			if len(hosts) == 0 {
				continue
			}
			vg := r.Name + "-vms"
			hg := r.Name + "-hosts"
			cfg.Group = append(cfg.Group,
				&types.ClusterVmGroup{ClusterGroupInfo: types.ClusterGroupInfo{Name: vg}, Vm: vms},
				&types.ClusterHostGroup{ClusterGroupInfo: types.ClusterGroupInfo{Name: hg}, Host: hosts})
			rule := &types.ClusterVmHostRuleInfo{
				ClusterRuleInfo: types.ClusterRuleInfo{
					Key: int32(100 + i), Name: r.Name, Enabled: types.NewBool(boolOr(r.Enabled, true)),
					Mandatory: types.NewBool(r.Mandatory), UserCreated: types.NewBool(true),
					Status: types.ManagedEntityStatusGreen,
				},
				VmGroupName: vg,
			}
			if r.Anti {
				rule.AntiAffineHostGroupName = hg
			} else {
				rule.AffineHostGroupName = hg
			}
			cfg.Rule = append(cfg.Rule, rule)
		}
		for _, v := range sc.HADisabledVMs {
			cfg.DasVmConfig = append(cfg.DasVmConfig, types.ClusterDasVmConfigInfo{
				Key:         findVM(v),
				DasSettings: &types.ClusterDasVmSettings{RestartPriority: "disabled"},
			})
		}
		for _, v := range sc.DRSDisabledVMs {
			cfg.DrsVmConfig = append(cfg.DrsVmConfig, types.ClusterDrsVmConfigInfo{
				Key: findVM(v), Enabled: types.NewBool(false),
			})
		}
	}

	// Hosts: vMotion on a VMkernel adapter (stock hosts report it off), states.
	for _, h := range hostByName {
		spec := sc.Hosts[h.Name]
		vmotion := boolOr(spec.VMotion, boolOr(sc.VMotion, true))
		h.Summary.Config.VmotionEnabled = vmotion
		if h.Config != nil && h.Config.VirtualNicManagerInfo != nil {
			for i := range h.Config.VirtualNicManagerInfo.NetConfig {
				nc := &h.Config.VirtualNicManagerInfo.NetConfig[i]
				if nc.NicType == "vmotion" {
					if vmotion {
						nc.SelectedVnic = []string{"vmotion.key-vim.host.VirtualNic-vmk0"}
					} else {
						nc.SelectedVnic = nil
					}
				}
			}
		}
		if spec.Maintenance {
			h.Runtime.InMaintenanceMode = true
		}
		if spec.Connection != "" {
			h.Runtime.ConnectionState = types.HostSystemConnectionState(spec.Connection)
		}
	}
	for name := range sc.Hosts {
		findHost(name)
	}

	// Display names: same-named clusters and datastores in different datacenters.
	for _, kind := range []string{"ClusterComputeResource", "Datastore"} {
		for _, e := range simulator.Map.All(kind) {
			me := e.(mo.Entity).Entity()
			if to, ok := sc.Rename[me.Name]; ok {
				me.Name = to
				if ds, ok := e.(*simulator.Datastore); ok {
					ds.Summary.Name = to
				}
			}
		}
	}

	// Serve.
	listen := &url.URL{Host: sc.Listen}
	if sc.User != "" {
		listen.User = url.UserPassword(sc.User, sc.Password)
	}
	model.Service.Listen = listen
	model.Service.RegisterEndpoints = true
	if boolOr(sc.TLS, true) {
		cert, certPEM := selfSignedCert()
		model.Service.TLS = &tls.Config{Certificates: []tls.Certificate{cert}}
		if sc.CertOut != "" {
			if err := ioutil.WriteFile(sc.CertOut, certPEM, 0o644); err != nil {
				die("write cert: %v", err)
			}
		}
	}
	// The service keeps a pointer to model.DelayConfig: slow answers start only now, after setup.
	model.DelayConfig.Delay = sc.DelayMS
	model.DelayConfig.MethodDelay = sc.MethodDelayMS
	server := model.Service.NewServer()
	u := *server.URL
	u.User = nil
	fmt.Printf("READY %s\n", u.String())
	names := []string{}
	for n := range vmRefs {
		names = append(names, n+"="+vmRefs[n].Value)
	}
	fmt.Printf("VMS %s\n", strings.Join(names, " "))
	os.Stdout.Sync()

	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	<-sig
	server.Close()
}
