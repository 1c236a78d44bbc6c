package plantgen

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"time"
)

// EPCIS writes a partner's EPCIS 2.0 document of n events, JSON-LD or (xml)
// XML, streamed: the benchmark input of a capture (hub gen --epcis). The
// feed repeats a cycle of four events over new lots:
//
//  1. ObjectEvent ADD receiving of a raw lot (LGTIN, 1,000 KGM) from one of
//     twenty suppliers, with a purchase order;
//  2. TransformationEvent (with a transformationID) of that lot and the
//     previous raw lot into a finished lot, with an ilmd expiry date;
//  3. AggregationEvent ADD packing the finished lot on a pallet (SSCC);
//  4. ObjectEvent OBSERVE shipping the pallet to one of two hundred
//     customers — without eventID, so its hash ID is computed.
//
// The same n gives the same bytes. Times advance a second per event from
// DefaultStart.
func EPCIS(ctx context.Context, w io.Writer, n int, xml bool) error {
	bw := bufio.NewWriterSize(w, 1<<20)
	created := DefaultStart.Format(time.RFC3339)
	if xml {
		fmt.Fprintf(bw, `<?xml version="1.0" encoding="UTF-8"?>
<epcis:EPCISDocument xmlns:epcis="urn:epcglobal:epcis:xsd:2" xmlns:cbvmda="urn:epcglobal:cbv:mda" schemaVersion="2.0" creationDate="%s">
<EPCISBody>
<EventList>
`, created)
	} else {
		fmt.Fprintf(bw, `{"@context":["https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"],"type":"EPCISDocument","schemaVersion":"2.0","creationDate":"%s",
"epcisBody":{"eventList":[
`, created)
	}
	for i := 0; i < n; i++ {
		if i%10000 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		k := i / 4
		at := DefaultStart.Add(time.Duration(i) * time.Second).Format(time.RFC3339)
		id := fmt.Sprintf("urn:uuid:00000000-0000-4000-8000-%012x", i)
		raw := func(k int) string { return fmt.Sprintf("urn:epc:class:lgtin:9506000.01%04d.R%d", k%40, k) }
		fin := fmt.Sprintf("urn:epc:class:lgtin:9506000.02%04d.F%d", k%20, k)
		sscc := fmt.Sprintf("urn:epc:id:sscc:9506000.%010d", k)
		if !xml && i > 0 {
			bw.WriteString(",\n")
		}
		switch i % 4 {
		case 0:
			supplier := fmt.Sprintf("urn:epc:id:pgln:4012345.%05d", k%20)
			if xml {
				fmt.Fprintf(bw, `<ObjectEvent><eventTime>%s</eventTime><eventTimeZoneOffset>+00:00</eventTimeZoneOffset><eventID>%s</eventID><epcList/><action>ADD</action><bizStep>urn:epcglobal:cbv:bizstep:receiving</bizStep><bizLocation><id>urn:epc:id:sgln:9506000.00001.0</id></bizLocation><bizTransactionList><bizTransaction type="urn:epcglobal:cbv:btt:po">urn:lothub:po:PO-%d</bizTransaction></bizTransactionList><quantityList><quantityElement><epcClass>%s</epcClass><quantity>1000</quantity><uom>KGM</uom></quantityElement></quantityList><sourceList><source type="urn:epcglobal:cbv:sdt:owning_party">%s</source></sourceList></ObjectEvent>`,
					at, id, k, raw(k), supplier)
			} else {
				fmt.Fprintf(bw, `{"type":"ObjectEvent","eventTime":"%s","eventTimeZoneOffset":"+00:00","eventID":"%s","action":"ADD","bizStep":"receiving","bizLocation":{"id":"urn:epc:id:sgln:9506000.00001.0"},"bizTransactionList":[{"type":"po","bizTransaction":"urn:lothub:po:PO-%d"}],"quantityList":[{"epcClass":"%s","quantity":1000,"uom":"KGM"}],"sourceList":[{"type":"owning_party","source":"%s"}]}`,
					at, id, k, raw(k), supplier)
			}
		case 1:
			prev := raw(max(k-1, 0))
			expiry := DefaultStart.AddDate(1, 0, k%365).Format("2006-01-02")
			tid := fmt.Sprintf("urn:uuid:11111111-0000-4000-8000-%012x", k)
			if xml {
				fmt.Fprintf(bw, `<TransformationEvent><eventTime>%s</eventTime><eventTimeZoneOffset>+00:00</eventTimeZoneOffset><eventID>%s</eventID><inputQuantityList><quantityElement><epcClass>%s</epcClass><quantity>600</quantity><uom>KGM</uom></quantityElement><quantityElement><epcClass>%s</epcClass><quantity>400</quantity><uom>KGM</uom></quantityElement></inputQuantityList><outputQuantityList><quantityElement><epcClass>%s</epcClass><quantity>1000</quantity></quantityElement></outputQuantityList><transformationID>%s</transformationID><bizStep>urn:epcglobal:cbv:bizstep:commissioning</bizStep><ilmd><cbvmda:itemExpirationDate>%s</cbvmda:itemExpirationDate></ilmd></TransformationEvent>`,
					at, id, raw(k), prev, fin, tid, expiry)
			} else {
				fmt.Fprintf(bw, `{"type":"TransformationEvent","eventTime":"%s","eventTimeZoneOffset":"+00:00","eventID":"%s","inputQuantityList":[{"epcClass":"%s","quantity":600,"uom":"KGM"},{"epcClass":"%s","quantity":400,"uom":"KGM"}],"outputQuantityList":[{"epcClass":"%s","quantity":1000}],"transformationID":"%s","bizStep":"commissioning","ilmd":{"cbvmda:itemExpirationDate":"%s"}}`,
					at, id, raw(k), prev, fin, tid, expiry)
			}
		case 2:
			if xml {
				fmt.Fprintf(bw, `<AggregationEvent><eventTime>%s</eventTime><eventTimeZoneOffset>+00:00</eventTimeZoneOffset><eventID>%s</eventID><parentID>%s</parentID><childEPCs/><action>ADD</action><bizStep>urn:epcglobal:cbv:bizstep:packing</bizStep><childQuantityList><quantityElement><epcClass>%s</epcClass><quantity>1000</quantity></quantityElement></childQuantityList></AggregationEvent>`,
					at, id, sscc, fin)
			} else {
				fmt.Fprintf(bw, `{"type":"AggregationEvent","eventTime":"%s","eventTimeZoneOffset":"+00:00","eventID":"%s","parentID":"%s","action":"ADD","bizStep":"packing","childQuantityList":[{"epcClass":"%s","quantity":1000}]}`,
					at, id, sscc, fin)
			}
		case 3:
			customer := fmt.Sprintf("urn:epc:id:pgln:9506000.%05d", 100+k%200)
			if xml {
				fmt.Fprintf(bw, `<ObjectEvent><eventTime>%s</eventTime><eventTimeZoneOffset>+00:00</eventTimeZoneOffset><epcList><epc>%s</epc></epcList><action>OBSERVE</action><bizStep>urn:epcglobal:cbv:bizstep:shipping</bizStep><disposition>urn:epcglobal:cbv:disp:in_transit</disposition><bizTransactionList><bizTransaction type="urn:epcglobal:cbv:btt:desadv">urn:lothub:desadv:D-%d</bizTransaction></bizTransactionList><destinationList><destination type="urn:epcglobal:cbv:sdt:owning_party">%s</destination></destinationList></ObjectEvent>`,
					at, sscc, k, customer)
			} else {
				fmt.Fprintf(bw, `{"type":"ObjectEvent","eventTime":"%s","eventTimeZoneOffset":"+00:00","epcList":["%s"],"action":"OBSERVE","bizStep":"shipping","disposition":"in_transit","bizTransactionList":[{"type":"desadv","bizTransaction":"urn:lothub:desadv:D-%d"}],"destinationList":[{"type":"owning_party","destination":"%s"}]}`,
					at, sscc, k, customer)
			}
		}
		if xml {
			bw.WriteByte('\n')
		}
	}
	if xml {
		bw.WriteString("</EventList>\n</EPCISBody>\n</epcis:EPCISDocument>\n")
	} else {
		bw.WriteString("\n]}}\n")
	}
	return bw.Flush()
}
